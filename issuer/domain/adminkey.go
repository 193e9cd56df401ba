package domain

import "time"

// AdminKey authenticates operators (Authorization: Bearer <key>). Only a
// keyed hash of the key is stored; the key itself is shown once.
type AdminKey struct {
	ID        string
	Name      string
	Hash      []byte
	CreatedAt time.Time
	// RevokedAt, when set, disables the key.
	RevokedAt *time.Time
}

// InitialAdminKeyName names the admin key generated on first start.
const InitialAdminKeyName = "initial"
