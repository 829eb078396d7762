package skimguard

import "time"

// Session is one signed-in browser of the web interface. Sessions are kept
// in the Store, so that every serve process behind one address knows
// them and a restart signs nobody out.
type Session struct {
	// Key is the hex SHA-256 of the session's cookie value: the store
	// never holds a token that would sign anyone in.
	Key  string
	User string
	// PasswordDigest is a digest of the user's password hash at sign-in:
	// the session ends when the user is given a new password.
	PasswordDigest string
	// CSRF is the session's anti-CSRF token.
	CSRF      string
	CreatedAt time.Time
	SeenAt    time.Time
	// Idle is how long the session lives without a request; it ends then,
	// or at EndsAt, whichever comes first.
	Idle   time.Duration
	EndsAt time.Time
}

// Ended reports whether the session has ended at now. Every store decides
// by it.
func (s Session) Ended(now time.Time) bool {
	return now.Sub(s.SeenAt) > s.Idle || now.After(s.EndsAt)
}
