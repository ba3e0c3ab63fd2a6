package update

// spaceFactor: the backup needs room for a copy of the database, and as much again for
// its format's overhead and growth meanwhile; the package is staged (and kept) too.
const spaceFactor = 2

// needSpace is the free space an update needs: 2 × (database + package).
func needSpace(dbSize, pkgSize int64) uint64 {
	return spaceFactor * (uint64(max(dbSize, 0)) + uint64(max(pkgSize, 0)))
}

// enoughSpace decides the disk check: avail bytes free against needSpace.
func enoughSpace(avail uint64, dbSize, pkgSize int64) (ok bool, need uint64) {
	need = needSpace(dbSize, pkgSize)
	return avail >= need, need
}
