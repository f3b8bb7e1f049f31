package txiso_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/txiso"
)

// A serialization failure that arrives in the middle of a result is
// recorded by Rows.Next, even when fn neither calls Err nor Close and
// returns nil: Run classifies it and retries. (It used to end as
// ErrCommitUnknown: the driver's answer to COMMIT of the failed transaction
// carries no SQLSTATE, and nothing had recorded the 40001.)
func TestPGMidResultFailureRecordedByNext(t *testing.T) {
	forDrivers(t, func(t *testing.T, db *sql.DB) {
		exec(t, db, "create sequence calls")
		exec(t, db, `create function fail_once(i int) returns int language plpgsql as $$
			begin
			  if i = 3 then
			    if nextval('calls') = 1 then
			      raise exception 'injected serialization failure' using errcode = '40001';
			    end if;
			  end if;
			  return i;
			end $$`)
		var read []int
		attempts := 0
		err := txiso.Run(context.Background(), db, func(ctx context.Context, tx *txiso.Tx) error {
			attempts++
			read = read[:0]
			rows, err := tx.Query(ctx, "select fail_once(g) from generate_series(1, 5) g")
			if err != nil {
				return err
			}
			for rows.Next() { // neither Err nor Close: the failure is swallowed
				var v int
				if err := rows.Scan(&v); err != nil {
					return err
				}
				read = append(read, v)
			}
			_, err = tx.Exec(ctx, "update t set v = v + 1 where id = 1")
			return err
		}, txiso.Serializable, fast)
		require.NoError(t, err)
		assert.Equal(t, 2, attempts, "the 40001 was retried")
		assert.Equal(t, []int{1, 2, 3, 4, 5}, read, "the second attempt read every row")
		assert.Equal(t, 11, value(t, db, 1), "committed once")
	})
}
