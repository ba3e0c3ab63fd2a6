package server

import (
	"context"

	izy "github.com/izytroniq/izytroniq"
)

// Roles gate each route (see Routes); grants decide which customers' data a user sees and
// changes. Data of a customer the caller holds no grant for answers 404, as if it did not
// exist, so that IDs of other customers reveal nothing.

// caller returns the signed-in user of ctx; routes that are not public always have one.
func caller(ctx context.Context) *izy.User { return izy.UserFromContext(ctx) }

// mayRead fails with ENOTFOUND when the caller may not see customerID's data.
func mayRead(ctx context.Context, customerID, what string) error {
	if !caller(ctx).CanRead(customerID) {
		return izy.Errorf(izy.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// mayWrite fails with ENOTFOUND when the caller may not see customerID's data and with
// EFORBIDDEN when the caller sees it but holds no write grant.
func mayWrite(ctx context.Context, customerID, what string) error {
	if err := mayRead(ctx, customerID, what); err != nil {
		return err
	}
	if !caller(ctx).CanWrite(customerID) {
		return izy.Errorf(izy.EFORBIDDEN, "you hold only a read grant for the customer of this %s", what)
	}
	return nil
}

// grantFilter is the GrantedTo of a list filter: "" for users who see every customer.
func grantFilter(ctx context.Context) string {
	u := caller(ctx)
	if u.SeesAllCustomers() {
		return ""
	}
	return u.ID
}

// hide turns "not found" of a store read into the same answer a missing grant gives.
func hide(err error, what string) error {
	if izy.ErrorCode(err) == izy.ENOTFOUND {
		return izy.Errorf(izy.ENOTFOUND, "%s not found", what)
	}
	return err
}
