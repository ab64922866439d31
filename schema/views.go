package schema

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// viewDependencies returns, per view, the indexes of the views its
// definition reads. It asks the server: information_schema.VIEWS holds the
// definition as the server resolved it, every table reference qualified
// with its database ("`db`.`v`"), where SHOW CREATE VIEW leaves the
// view's own database out and aliases look like table names. A reference
// is a quoted db, a dot and a quoted name that no dot precedes or follows
// (`db`.`t`.`col` is a column).
func viewDependencies(ctx context.Context, conn *sql.Conn, db string, views []Definition) ([][]int, error) {
	if len(views) < 2 {
		return make([][]int, len(views)), nil
	}
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`, db)
	if err != nil {
		return nil, fmt.Errorf("read view definitions: %w", err)
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, fmt.Errorf("read view definitions: %w", err)
		}
		defs[name] = def
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read view definitions: %w", err)
	}
	return dependencies(views, defs, db), nil
}

// dependencies returns, per view, the indexes of the views that its
// resolved definition in defs (by view name) reads.
func dependencies(views []Definition, defs map[string]string, db string) [][]int {
	deps := make([][]int, len(views))
	index := make(map[string]int, len(views))
	names := make(map[string]bool, len(views))
	for i, v := range views {
		index[v.Name] = i
		names[v.Name] = true
	}
	for i, v := range views {
		for _, ref := range tableRefs(defs[v.Name], db, names) {
			if j := index[ref]; j != i && !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return deps
}

// sortViews orders views so that each comes after the views it reads
// (deps, from viewDependencies). Views cannot read each other in a cycle;
// should deps hold one anyway, the view on it with the fewest unplaced
// dependencies (then the first by name) is placed and the sort goes on.
func sortViews(views []Definition, deps [][]int) []Definition {
	done := make([]bool, len(views))
	out := make([]Definition, 0, len(views))
	for len(out) < len(views) {
		progress := false
		for i := range views {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range deps[i] {
				ready = ready && done[d]
			}
			if ready {
				done[i] = true
				out = append(out, views[i])
				progress = true
			}
		}
		if !progress {
			best, bestOpen := -1, 0
			for i := range views {
				if done[i] || !onCycle(i, deps, done) {
					continue // views merely waiting for a cycle wait on
				}
				open := 0
				for _, d := range deps[i] {
					if !done[d] {
						open++
					}
				}
				if best < 0 || open < bestOpen || (open == bestOpen && views[i].Name < views[best].Name) {
					best, bestOpen = i, open
				}
			}
			done[best] = true
			out = append(out, views[best])
		}
	}
	return out
}

// onCycle reports whether view i can reach itself through dependencies
// that are not placed yet.
func onCycle(i int, deps [][]int, done []bool) bool {
	seen := make([]bool, len(deps))
	stack := append([]int(nil), deps[i]...)
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if j == i {
			return true
		}
		if done[j] || seen[j] {
			continue
		}
		seen[j] = true
		stack = append(stack, deps[j]...)
	}
	return false
}
