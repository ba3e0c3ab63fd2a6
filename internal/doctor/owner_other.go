//go:build !unix

package doctor

import "io/fs"

// owner names the owner of fi; Windows keeps it in the security descriptor, which
// icacls shows.
func owner(fs.FileInfo) string { return "see icacls" }
