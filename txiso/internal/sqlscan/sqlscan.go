// Package sqlscan finds transaction-control statements in SQL text, for
// txiso's Tx types, which refuse them. It is a lexer, not a parser: it
// splits the text into statements at semicolons outside string literals,
// quoted identifiers, dollar-quoted bodies, comments and BEGIN ATOMIC ...
// END bodies (the lexical rules of the PostgreSQL documentation, section
// 4.1 "Lexical Structure"), and looks at each statement's first words.
package sqlscan

import "strings"

// Kind says what a statement does to the transaction.
type Kind int

const (
	// Other is any statement that does not end or start a transaction.
	Other Kind = iota
	// Control is BEGIN, START TRANSACTION, COMMIT, END, ABORT, ROLLBACK
	// (not ROLLBACK TO), PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED.
	Control
	// RollbackTo is ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name: it
	// undoes an error since the savepoint, so the transaction is usable.
	RollbackTo
)

// Classify returns the strongest kind among q's statements (Control over
// RollbackTo over Other) and, for Control, the statement's leading words
// in upper case ("ROLLBACK", "START TRANSACTION"). It does not allocate.
func Classify(q string) (Kind, string) {
	kind, what := Other, ""
	l := lexer{s: q}
	for {
		words, n, ok := l.statement()
		if k, w := classifyWords(words[:n]); k > kind {
			kind, what = k, w
		}
		if !ok {
			return kind, what
		}
	}
}

func classifyWords(w []string) (Kind, string) {
	if len(w) == 0 {
		return Other, ""
	}
	at := func(i int, word string) bool { return i < len(w) && strings.EqualFold(w[i], word) }
	for _, c := range [...]string{"BEGIN", "COMMIT", "END", "ABORT"} {
		if at(0, c) {
			return Control, c
		}
	}
	switch {
	case at(0, "START") && at(1, "TRANSACTION"):
		return Control, "START TRANSACTION"
	case at(0, "PREPARE") && at(1, "TRANSACTION"):
		return Control, "PREPARE TRANSACTION"
	case at(0, "ROLLBACK"):
		i := 1
		if at(i, "WORK") || at(i, "TRANSACTION") {
			i++
		}
		if at(i, "TO") {
			return RollbackTo, ""
		}
		return Control, "ROLLBACK"
	}
	return Other, ""
}

type lexer struct {
	s string
	i int
}

// statement returns the first n (at most three) words of the next
// statement (a non-word token ends the list; the words are slices of the
// text) and false at the end of the text.
func (l *lexer) statement() (words [3]string, n int, more bool) {
	atomic := 0 // depth of BEGIN ATOMIC ... END bodies (CASE ... END inside)
	prev := ""
	collecting := true
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == ';' && atomic == 0:
			l.i++
			return words, n, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == ';':
			l.i++
		case c == '-' && l.peek(1) == '-':
			for l.i < len(l.s) && l.s[l.i] != '\n' {
				l.i++
			}
		case c == '/' && l.peek(1) == '*':
			l.blockComment()
		case c == '\'':
			l.quoted('\'', false)
			collecting, prev = false, ""
		case c == '"':
			l.quoted('"', false)
			collecting, prev = false, ""
		case (c == 'E' || c == 'e') && l.peek(1) == '\'':
			l.i++
			l.quoted('\'', true)
			collecting, prev = false, ""
		case c == '$' && l.dollar():
			collecting, prev = false, ""
		case isIdentStart(c):
			j := l.i
			for j < len(l.s) && isIdentPart(l.s[j]) {
				j++
			}
			w := l.s[l.i:j]
			l.i = j
			if collecting && n < len(words) {
				words[n] = w
				n++
			}
			switch {
			case strings.EqualFold(w, "ATOMIC") && strings.EqualFold(prev, "BEGIN") && !(n <= 2 && strings.EqualFold(words[0], "BEGIN")):
				atomic++
			case atomic > 0 && strings.EqualFold(w, "CASE"):
				atomic++
			case atomic > 0 && strings.EqualFold(w, "END"):
				atomic--
			}
			prev = w
		default:
			// Punctuation or a number: BEGIN and ATOMIC are adjacent only
			// with blanks or comments between them ("SET begin = 1, atomic
			// = 2" opens no BEGIN ATOMIC body).
			l.i++
			collecting, prev = false, ""
		}
	}
	return words, n, false
}

func (l *lexer) peek(n int) byte {
	if l.i+n < len(l.s) {
		return l.s[l.i+n]
	}
	return 0
}

// blockComment skips a /* */ comment; PostgreSQL nests them.
func (l *lexer) blockComment() {
	depth := 0
	for l.i < len(l.s) {
		switch {
		case l.s[l.i] == '/' && l.peek(1) == '*':
			depth++
			l.i += 2
		case l.s[l.i] == '*' && l.peek(1) == '/':
			depth--
			l.i += 2
			if depth == 0 {
				return
			}
		default:
			l.i++
		}
	}
}

// quoted skips a literal opened by q at l.i; a doubled q is an escaped q,
// and with backslash (E'...') so is \q.
func (l *lexer) quoted(q byte, backslash bool) {
	l.i++
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case backslash && c == '\\':
			l.i += 2
		case c == q && l.peek(1) == q:
			l.i += 2
		case c == q:
			l.i++
			return
		default:
			l.i++
		}
	}
}

// dollar skips a $tag$ ... $tag$ body at l.i, or reports false (a
// positional parameter such as $1, or a lone $).
func (l *lexer) dollar() bool {
	j := l.i + 1
	for j < len(l.s) && l.s[j] != '$' {
		if !isIdentPart(l.s[j]) || (j == l.i+1 && l.s[j] >= '0' && l.s[j] <= '9') {
			return false
		}
		j++
	}
	if j >= len(l.s) {
		return false
	}
	tag := l.s[l.i : j+1]
	end := strings.Index(l.s[j+1:], tag)
	if end < 0 {
		l.i = len(l.s)
		return true
	}
	l.i = j + 1 + end + len(tag)
	return true
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }
