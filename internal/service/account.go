package service

import (
	"errors"
	"fmt"
	"os/user"
)

// checkUnixAccount checks name is a valid user name and exists on this system.
func checkUnixAccount(name string) error {
	if err := ValidateUnixUser(name); err != nil {
		return err
	}
	if _, err := user.Lookup(name); err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return fmt.Errorf("account %q does not exist on this system; create it first, e.g. useradd --system --no-create-home %s", name, name)
		}
		return fmt.Errorf("look up account %q: %w", name, err)
	}
	return nil
}

func fileExists(p string) bool { return isFile(p) }
