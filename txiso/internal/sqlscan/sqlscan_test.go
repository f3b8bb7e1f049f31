package sqlscan

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		q    string
		kind Kind
		what string
	}{
		{"ROLLBACK", Control, "ROLLBACK"},
		{"rollback", Control, "ROLLBACK"},
		{"  \n\tRollBack work", Control, "ROLLBACK"},
		{"commit", Control, "COMMIT"},
		{"COMMIT AND CHAIN", Control, "COMMIT"},
		{"end", Control, "END"},
		{"end transaction", Control, "END"},
		{"abort", Control, "ABORT"},
		{"begin", Control, "BEGIN"},
		{"BEGIN ISOLATION LEVEL SERIALIZABLE", Control, "BEGIN"},
		{"start transaction read only", Control, "START TRANSACTION"},
		{"PREPARE TRANSACTION 'x'", Control, "PREPARE TRANSACTION"},
		{"commit prepared 'x'", Control, "COMMIT"},
		{"rollback prepared 'x'", Control, "ROLLBACK"},
		{"-- a comment\nrollback", Control, "ROLLBACK"},
		{"/* a /* nested */ comment */ commit", Control, "COMMIT"},
		{"update t set v = 1; commit", Control, "COMMIT"},
		{"update t set v = 1;;  ROLLBACK;", Control, "ROLLBACK"},
		{"ROLLBACK TO SAVEPOINT a", RollbackTo, ""},
		{"rollback transaction to a", RollbackTo, ""},
		{"select 'commit'", Other, ""},
		{"select 1; select ';commit'", Other, ""},
		{`select "commit" from t`, Other, ""},
		{"select E'\\'; commit'", Other, ""},
		{"select 'it''s; commit'", Other, ""},
		{"select $$; commit$$", Other, ""},
		{"select $tag$ $$; commit $tag$, $1", Other, ""},
		{"update t set v = $1 where id = $2", Other, ""},
		{"-- commit\nselect 1", Other, ""},
		{"/* rollback */ select 1", Other, ""},
		{"prepare p as select 1", Other, ""},
		{"savepoint a", Other, ""},
		{"release savepoint a", Other, ""},
		{"select 1 -- ; commit", Other, ""},
		{"create function f() returns int language sql begin atomic select 1; end", Other, ""},
		{"create function f() returns int language sql begin atomic select case when true then 1 end; select 2; end; commit", Control, "COMMIT"},
		// Columns named begin and atomic, apart: no BEGIN ATOMIC body opens.
		{"update t set begin = 1, atomic = 2; rollback", Control, "ROLLBACK"},
		{"update t set begin = 'x', atomic = 2; commit", Control, "COMMIT"},
		{"create function f() returns int language sql begin /* c */ atomic select 1; end; commit", Control, "COMMIT"},
		{"", Other, ""},
		{"select endpoint from t", Other, ""},
		{"commitments", Other, ""},
	} {
		kind, what := Classify(tc.q)
		if kind != tc.kind || what != tc.what {
			t.Errorf("Classify(%q) = %v %q, want %v %q", tc.q, kind, what, tc.kind, tc.what)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"commit", "select $a$ x $a$; rollback", "/* /* */", "E'\\", "begin atomic end"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		k, what := Classify(q) // must not panic or loop
		if (k == Control) != (what != "") {
			t.Errorf("Classify(%q) = %v %q", q, k, what)
		}
	})
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	q := "/* c */ update accounts set balance = balance + $1 where id = $2; select 'x'"
	if n := testing.AllocsPerRun(100, func() { Classify(q) }); n != 0 {
		t.Errorf("Classify allocates %v times per call, want 0", n)
	}
}
