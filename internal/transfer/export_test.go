package transfer

// Internals for the external tests.
var (
	ParseContentRange = parseContentRange
	AddRange          = addRange
	ValidSHA256       = validSHA256
	ValidSessionID    = validSessionID
)

// BlobPath and SessionPath build the store-relative paths the service uses.
func BlobPath(sum string) (string, error) {
	e, err := blobElems(sum)
	if err != nil {
		return "", err
	}
	return join(e), nil
}

func SessionPath(id string) (string, error) {
	e, err := sessionElems(id, dataFile)
	if err != nil {
		return "", err
	}
	return join(e), nil
}

// SetMaxRanges lowers the limit of separate received runs for a test.
func SetMaxRanges(n int) (restore func()) {
	old := maxRanges
	maxRanges = n
	return func() { maxRanges = old }
}
