package txiso

// The Hermitage cases for PostgreSQL (https://github.com/ept/hermitage,
// postgres.md, CC BY 4.0), with the expected result of every step at every
// level, verified on PostgreSQL 15 and kept in testdata/hermitage-postgres.md
// (TestCasesMatchSpec checks this table against it). The levels' behaviour
// is the one the PostgreSQL documentation describes in "Transaction
// Isolation" (section 13.2). "test" in the SQL is replaced by a per-run
// table name.

type step struct {
	n        int    // step number in the spec
	session  string // "T1", "T2", "T3" or "obs"
	sql      string
	exp      [3]string // read committed (= read uncommitted), repeatable read, serializable
	releases string    // session whose blocked statement this step releases
}

type cond struct {
	step int
	obs  string // observed token; "A|B" means either
}

type hcase struct {
	name    string
	anomaly string // phenomenon
	title   string
	levels  []Level
	// deferrable: T3 begins SERIALIZABLE READ ONLY DEFERRABLE.
	deferrable bool
	steps      []step
	// anomalyIf: the anomaly occurred iff every condition holds.
	anomalyIf []cond
}

var allLevels = []Level{ReadUncommitted, ReadCommitted, RepeatableRead, Serializable}

func st(n int, s, q, rc, rr, ser string) step {
	return step{n: n, session: s, sql: q, exp: [3]string{rc, rr, ser}}
}

func rel(x step, s string) step { x.releases = s; return x }

func same(n int, s, q, e string) step { return st(n, s, q, e, e, e) }

var hermitage = []hcase{
	{
		name: "G0", anomaly: "G0", title: "write cycles (dirty writes)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "update test set value = 11 where id = 1", "n:1"),
			st(4, "T2", "update test set value = 12 where id = 1", "blocks>n:1", "blocks>err:40001", "blocks>err:40001"),
			same(5, "T1", "update test set value = 21 where id = 2", "n:1"),
			rel(same(6, "T1", "commit", "ok"), "T2"),
			same(7, "T1", "select * from test", "rows:1=11,2=21"),
			st(8, "T2", "update test set value = 22 where id = 2", "n:1", "-", "-"),
			st(9, "T2", "commit", "ok", "-", "-"),
			st(10, "T2", "abort", "-", "ok", "ok"),
			st(11, "T1", "select * from test", "rows:1=12,2=22", "rows:1=11,2=21", "rows:1=11,2=21"),
		},
		anomalyIf: []cond{{4, "n:1"}},
	},
	{
		name: "G1a", anomaly: "G1a", title: "aborted reads (dirty reads)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "update test set value = 101 where id = 1", "n:1"),
			same(4, "T2", "select * from test", "rows:1=10,2=20"),
			same(5, "T1", "abort", "ok"),
			same(6, "T2", "select * from test", "rows:1=10,2=20"),
			same(7, "T2", "commit", "ok"),
		},
		anomalyIf: []cond{{4, "rows:1=101,2=20"}},
	},
	{
		name: "G1b", anomaly: "G1b", title: "intermediate reads (dirty reads)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "update test set value = 101 where id = 1", "n:1"),
			same(4, "T2", "select * from test", "rows:1=10,2=20"),
			same(5, "T1", "update test set value = 11 where id = 1", "n:1"),
			same(6, "T1", "commit", "ok"),
			st(7, "T2", "select * from test", "rows:1=11,2=20", "rows:1=10,2=20", "rows:1=10,2=20"),
			same(8, "T2", "commit", "ok"),
		},
		anomalyIf: []cond{{4, "rows:1=101,2=20"}},
	},
	{
		name: "G1c", anomaly: "G1c", title: "circular information flow", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "update test set value = 11 where id = 1", "n:1"),
			same(4, "T2", "update test set value = 22 where id = 2", "n:1"),
			same(5, "T1", "select * from test where id = 2", "rows:2=20"),
			same(6, "T2", "select * from test where id = 1", "rows:1=10"),
			same(7, "T1", "commit", "ok"),
			st(8, "T2", "commit", "ok", "ok", "err:40001"),
			st(9, "obs", "select * from test", "rows:1=11,2=22", "rows:1=11,2=22", "rows:1=11,2=20"),
		},
		anomalyIf: []cond{{5, "rows:2=22"}},
	},
	{
		name: "OTV", anomaly: "OTV", title: "observed transaction vanishes", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T3", "begin", "ok"),
			same(4, "T1", "update test set value = 11 where id = 1", "n:1"),
			same(5, "T1", "update test set value = 19 where id = 2", "n:1"),
			st(6, "T2", "update test set value = 12 where id = 1", "blocks>n:1", "blocks>err:40001", "blocks>err:40001"),
			rel(same(7, "T1", "commit", "ok"), "T2"),
			same(8, "T3", "select * from test where id = 1", "rows:1=11"),
			st(9, "T2", "update test set value = 18 where id = 2", "n:1", "err:25P02", "err:25P02"),
			same(10, "T3", "select * from test where id = 2", "rows:2=19"),
			st(11, "T2", "commit", "ok", "failed", "failed"),
			st(12, "T3", "select * from test where id = 2", "rows:2=18", "rows:2=19", "rows:2=19"),
			st(13, "T3", "select * from test where id = 1", "rows:1=12", "rows:1=11", "rows:1=11"),
			same(14, "T3", "commit", "ok"),
		},
		anomalyIf: []cond{{12, "rows:2=18"}, {13, "rows:1=11"}},
	},
	{
		name: "PMP", anomaly: "PMP", title: "predicate-many-preceders (read predicate)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where value = 30", "rows:"),
			same(4, "T2", "insert into test (id, value) values (3, 30)", "n:1"),
			same(5, "T2", "commit", "ok"),
			st(6, "T1", "select * from test where value % 3 = 0", "rows:3=30", "rows:", "rows:"),
			same(7, "T1", "commit", "ok"),
		},
		anomalyIf: []cond{{6, "rows:3=30"}},
	},
	{
		name: "PMP-write", anomaly: "PMP", title: "predicate-many-preceders (write predicate)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "update test set value = value + 10", "n:2"),
			st(4, "T2", "delete from test where value = 20", "blocks>n:0", "blocks>err:40001", "blocks>err:40001"),
			rel(same(5, "T1", "commit", "ok"), "T2"),
			st(6, "T2", "select * from test where value = 20", "rows:1=20", "-", "-"),
			st(7, "T2", "commit", "ok", "-", "-"),
			st(8, "T2", "abort", "-", "ok", "ok"),
		},
		anomalyIf: []cond{{4, "blocks>n:0"}},
	},
	{
		name: "P4", anomaly: "P4", title: "lost update", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where id = 1", "rows:1=10"),
			same(4, "T2", "select * from test where id = 1", "rows:1=10"),
			same(5, "T1", "update test set value = 11 where id = 1", "n:1"),
			st(6, "T2", "update test set value = 11 where id = 1", "blocks>n:1", "blocks>err:40001", "blocks>err:40001"),
			rel(same(7, "T1", "commit", "ok"), "T2"),
			st(8, "T2", "commit", "ok", "-", "-"),
			st(9, "T2", "abort", "-", "ok", "ok"),
			same(10, "obs", "select * from test where id = 1", "rows:1=11"),
		},
		anomalyIf: []cond{{8, "ok"}},
	},
	{
		name: "G-single", anomaly: "G-single", title: "single anti-dependency cycle (read skew)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where id = 1", "rows:1=10"),
			same(4, "T2", "select * from test where id = 1", "rows:1=10"),
			same(5, "T2", "select * from test where id = 2", "rows:2=20"),
			same(6, "T2", "update test set value = 12 where id = 1", "n:1"),
			same(7, "T2", "update test set value = 18 where id = 2", "n:1"),
			same(8, "T2", "commit", "ok"),
			st(9, "T1", "select * from test where id = 2", "rows:2=18", "rows:2=20", "rows:2=20"),
			same(10, "T1", "commit", "ok"),
		},
		anomalyIf: []cond{{9, "rows:2=18"}},
	},
	{
		name: "G-single-predicate", anomaly: "G-single", title: "read skew via predicate dependencies", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where value % 5 = 0", "rows:1=10,2=20"),
			same(4, "T2", "update test set value = 12 where value = 10", "n:1"),
			same(5, "T2", "commit", "ok"),
			st(6, "T1", "select * from test where value % 3 = 0", "rows:1=12", "rows:", "rows:"),
			same(7, "T1", "commit", "ok"),
		},
		anomalyIf: []cond{{6, "rows:1=12"}},
	},
	{
		name: "G-single-write-predicate", anomaly: "G-single", title: "read skew via a write predicate", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where id = 1", "rows:1=10"),
			same(4, "T2", "select * from test", "rows:1=10,2=20"),
			same(5, "T2", "update test set value = 12 where id = 1", "n:1"),
			same(6, "T2", "update test set value = 18 where id = 2", "n:1"),
			same(7, "T2", "commit", "ok"),
			st(8, "T1", "delete from test where value = 20", "n:0", "err:40001", "err:40001"),
			st(9, "T1", "commit", "ok", "-", "-"),
			st(10, "T1", "abort", "-", "ok", "ok"),
		},
		anomalyIf: []cond{{8, "n:0"}},
	},
	{
		name: "G2-item", anomaly: "G2-item", title: "item anti-dependency cycle (write skew)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where id in (1,2)", "rows:1=10,2=20"),
			same(4, "T2", "select * from test where id in (1,2)", "rows:1=10,2=20"),
			same(5, "T1", "update test set value = 11 where id = 1", "n:1"),
			same(6, "T2", "update test set value = 21 where id = 2", "n:1"),
			same(7, "T1", "commit", "ok"),
			st(8, "T2", "commit", "ok", "ok", "err:40001"),
			st(9, "obs", "select * from test", "rows:1=11,2=21", "rows:1=11,2=21", "rows:1=11,2=20"),
		},
		anomalyIf: []cond{{8, "ok"}},
	},
	{
		name: "G2", anomaly: "G2", title: "anti-dependency cycle (write skew on predicate read)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "select * from test where value % 3 = 0", "rows:"),
			same(4, "T2", "select * from test where value % 3 = 0", "rows:"),
			same(5, "T1", "insert into test (id, value) values (3, 30)", "n:1"),
			same(6, "T2", "insert into test (id, value) values (4, 42)", "n:1"),
			same(7, "T1", "commit", "ok"),
			st(8, "T2", "commit", "ok", "ok", "err:40001"),
			st(9, "T1", "select * from test where value % 3 = 0", "rows:3=30,4=42", "rows:3=30,4=42", "rows:3=30"),
		},
		anomalyIf: []cond{{8, "ok"}},
	},
	{
		name: "G2-two-edges", anomaly: "G2", title: "read-only anomaly (Fekete et al.)", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T1", "select * from test", "rows:1=10,2=20"),
			same(3, "T2", "begin", "ok"),
			same(4, "T2", "update test set value = value + 5 where id = 2", "n:1"),
			same(5, "T2", "commit", "ok"),
			same(6, "T3", "begin", "ok"),
			same(7, "T3", "select * from test", "rows:1=10,2=25"),
			same(8, "T3", "commit", "ok"),
			st(9, "T1", "update test set value = 0 where id = 1", "n:1", "n:1", "err:40001"),
			st(10, "T1", "commit", "ok", "ok", "-"),
			st(11, "T1", "abort", "-", "-", "ok"),
		},
		anomalyIf: []cond{{10, "ok"}},
	},
	{
		name: "X-deadlock", anomaly: "40P01", title: "deadlock: one waiter aborted with 40P01", levels: allLevels,
		steps: []step{
			same(1, "T1", "begin", "ok"),
			same(2, "T2", "begin", "ok"),
			same(3, "T1", "update test set value = 11 where id = 1", "n:1"),
			same(4, "T2", "update test set value = 22 where id = 2", "n:1"),
			same(5, "T1", "update test set value = 21 where id = 2", "blocks>err:40P01|n:1"),
			rel(same(6, "T2", "update test set value = 12 where id = 1", "n:1|err:40P01"), "T1"),
			same(7, "T1", "commit", "ok|failed"),
			same(8, "T2", "commit", "ok|failed"),
			same(9, "obs", "select * from test", "rows:1=12,2=22|rows:1=11,2=21"),
		},
	},
	{
		name: "X-savepoint-retry", anomaly: "40001", title: "ROLLBACK TO SAVEPOINT does not cure a 40001",
		levels: []Level{RepeatableRead, Serializable},
		steps: []step{
			st(1, "T1", "begin", "n/a", "ok", "ok"),
			st(2, "T2", "begin", "n/a", "ok", "ok"),
			st(3, "T2", "select * from test where id = 1", "n/a", "rows:1=10", "rows:1=10"),
			st(4, "T1", "update test set value = 11 where id = 1", "n/a", "n:1", "n:1"),
			st(5, "T1", "commit", "n/a", "ok", "ok"),
			st(6, "T2", "savepoint sp1", "n/a", "ok", "ok"),
			st(7, "T2", "update test set value = 12 where id = 1", "n/a", "err:40001", "err:40001"),
			st(8, "T2", "rollback to savepoint sp1", "n/a", "ok", "ok"),
			st(9, "T2", "update test set value = 12 where id = 1", "n/a", "err:40001", "err:40001"),
			st(10, "T2", "abort", "n/a", "ok", "ok"),
		},
		anomalyIf: []cond{{9, "n:1"}},
	},
	{
		name: "X-deferrable", anomaly: "DEFERRABLE", title: "SERIALIZABLE READ ONLY DEFERRABLE waits for a safe snapshot",
		levels: []Level{Serializable}, deferrable: true,
		steps: []step{
			st(1, "T1", "begin", "n/a", "n/a", "ok"),
			st(2, "T1", "select * from test", "n/a", "n/a", "rows:1=10,2=20"),
			st(3, "T2", "begin", "n/a", "n/a", "ok"),
			st(4, "T2", "update test set value = value + 5 where id = 2", "n/a", "n/a", "n:1"),
			st(5, "T2", "commit", "n/a", "n/a", "ok"),
			st(6, "T3", "begin", "n/a", "n/a", "ok"),
			st(7, "T3", "select * from test", "n/a", "n/a", "blocks>rows:1=0,2=25"),
			st(8, "T1", "update test set value = 0 where id = 1", "n/a", "n/a", "n:1"),
			rel(st(9, "T1", "commit", "n/a", "n/a", "ok"), "T3"),
			st(10, "T3", "commit", "n/a", "n/a", "ok"),
		},
		anomalyIf: []cond{{7, "rows:1=10,2=25|blocks>rows:1=10,2=25"}},
	},
}

func (s step) expect(l Level) string {
	switch l {
	case RepeatableRead:
		return s.exp[1]
	case Serializable:
		return s.exp[2]
	}
	return s.exp[0]
}
