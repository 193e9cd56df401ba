package sqlstore

import "strings"

// listQuery builds a filtered, ordered, optionally limited SELECT for the
// List* methods: conditions are ANDed, each with its one argument.
type listQuery struct {
	where []string
	args  []any
}

// add ANDs cond (with one ? placeholder) and its argument.
func (q *listQuery) add(cond string, arg any) {
	q.where = append(q.where, cond)
	q.args = append(q.args, arg)
}

// build returns the statement "SELECT <selectFrom> [WHERE …] ORDER BY
// <orderBy> [LIMIT ?]" and its arguments; limit <= 0 means no limit.
func (q *listQuery) build(selectFrom, orderBy string, limit int) (string, []any) {
	s := "SELECT " + selectFrom
	if len(q.where) > 0 {
		s += " WHERE " + strings.Join(q.where, " AND ")
	}
	s += " ORDER BY " + orderBy
	args := q.args
	if limit > 0 {
		s += " LIMIT ?"
		args = append(args, limit)
	}
	return s, args
}
