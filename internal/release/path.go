package release

import (
	"errors"
	"fmt"
)

// Reasons CheckVersionPath refuses a version; test with errors.Is.
var (
	// ErrDowngrade: the candidate is older than what is installed.
	ErrDowngrade = errors.New("downgrade refused")
	// ErrSameVersion: the candidate is what is installed; an update has nothing to do.
	ErrSameVersion = errors.New("version already installed")
	// ErrIntermediateRequired: the candidate cannot be installed directly over the
	// installed version; another version has to be installed first.
	ErrIntermediateRequired = errors.New("intermediate version required")
)

// PathError is CheckVersionPath's refusal. Its message says what to do; Unwrap gives
// one of ErrDowngrade, ErrSameVersion and ErrIntermediateRequired.
type PathError struct {
	Err       error
	Current   string // the installed version
	Candidate string // the version offered
	Required  string // for ErrIntermediateRequired: the version to install first
}

func (e *PathError) Error() string {
	switch e.Err {
	case ErrDowngrade:
		return fmt.Sprintf("downgrade from %s to %s refused; pass --allow-downgrade with a backup made by %s", e.Current, e.Candidate, e.Candidate)
	case ErrSameVersion:
		return fmt.Sprintf("version %s is already installed; nothing to update", e.Current)
	case ErrIntermediateRequired:
		return fmt.Sprintf("%s cannot be installed over %s directly; install %s first", e.Candidate, e.Current, e.Required)
	}
	return e.Err.Error()
}

func (e *PathError) Unwrap() error { return e.Err }

// CheckVersionPath says whether an installation at version current may move to
// candidate: newer is fine; the same version is refused with ErrSameVersion (callers
// treat it as "nothing to do"); older is refused with ErrDowngrade unless
// allowDowngrade is set, which the caller may only do with a backup made by candidate.
// A candidate's required intermediate version is checked by
// (*Manifest).CheckUpgradeFrom.
func CheckVersionPath(current, candidate string, allowDowngrade bool) error {
	cur, err := ParseVersion(current)
	if err != nil {
		return fmt.Errorf("installed version: %w", err)
	}
	cand, err := ParseVersion(candidate)
	if err != nil {
		return fmt.Errorf("package version: %w", err)
	}
	switch c := cand.Compare(cur); {
	case c == 0:
		return &PathError{Err: ErrSameVersion, Current: current, Candidate: candidate}
	case c < 0 && !allowDowngrade:
		return &PathError{Err: ErrDowngrade, Current: current, Candidate: candidate}
	}
	return nil
}

// CheckUpgradeFrom is CheckVersionPath for the package m describes, plus its required
// intermediate version: when m.MinUpgradeFrom is newer than current, that version has
// to be installed first. A permitted downgrade skips the intermediate check, since it
// restores the older version's own backup.
func (m *Manifest) CheckUpgradeFrom(current string, allowDowngrade bool) error {
	if err := CheckVersionPath(current, m.Version, allowDowngrade); err != nil {
		return err
	}
	if m.MinUpgradeFrom == "" {
		return nil
	}
	cur := MustParseVersion(current) // CheckVersionPath parsed it
	minFrom, err := ParseVersion(m.MinUpgradeFrom)
	if err != nil {
		return fmt.Errorf("package min_upgrade_from: %w", err)
	}
	if MustParseVersion(m.Version).Compare(cur) > 0 && cur.Compare(minFrom) < 0 {
		return &PathError{Err: ErrIntermediateRequired, Current: current, Candidate: m.Version, Required: m.MinUpgradeFrom}
	}
	return nil
}
