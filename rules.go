package izytroniq

// RuleSet is the limit values of one edition of a test standard. Limit values are data
// (see the tables below), never scattered through code.
type RuleSet struct {
	Standard string // canonical name, e.g. "VDE 0701-0702:2008"
	Source   string // where the values come from
}

// DefaultStandard is used when neither the test nor the device names one.
const DefaultStandard = "VDE 0701-0702:2008"

// RuleSetFor returns the rule set of a standard name (canonical name or alias).
func RuleSetFor(standard string) (*RuleSet, error) {
	// Placeholder until the rule tables land; replaced in the rules commit.
	if standard == DefaultStandard {
		return &RuleSet{Standard: DefaultStandard}, nil
	}
	return nil, Errorf(EINVALID, "unknown standard %q", truncate(standard, 60))
}
