package server

import (
	"net/http"
	"slices"
	"strings"

	izy "github.com/izytroniq/izytroniq"
)

// Route is one entry of the HTTP surface. Routes is the only place they are listed; the
// README's API table is checked against it by a test.
type Route struct {
	Method  string     // GET, POST, PUT, PATCH or DELETE
	Pattern string     // a ServeMux path pattern, e.g. "/api/v1/devices/{id}"
	Public  bool       // no token needed
	Roles   []izy.Role // roles that may call it; nil means every signed-in user
	Summary string     // one line for the API reference

	handler apiFunc
}

// apiFunc is a handler that reports failure by returning an error; the route wrapper
// turns it into the JSON error answer.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// Auth describes who may call the route, as written in the API reference.
func (rt Route) Auth() string {
	switch {
	case rt.Public:
		return "public"
	case rt.Roles == nil:
		return "any user"
	}
	names := make([]string, len(rt.Roles))
	for i, r := range rt.Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// allows reports whether a user with role may call the route.
func (rt Route) allows(role izy.Role) bool {
	return rt.Roles == nil || slices.Contains(rt.Roles, role)
}

var (
	adminOnly  = []izy.Role{izy.RoleAdmin}
	clerks     = []izy.Role{izy.RoleAdmin, izy.RoleClerk}
	fieldStaff = []izy.Role{izy.RoleAdmin, izy.RoleClerk, izy.RoleInspector}
	testers    = []izy.Role{izy.RoleAdmin, izy.RoleInspector}
)

// Routes lists the whole HTTP surface. Grants narrow the roles further: customer data
// needs a read grant to be seen and a write grant to be changed (admins need neither).
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", "/{$}", true, nil, "Status page with links", s.index},
		{"GET", "/livez", true, nil, "Liveness (application/health+json)", s.livez},
		{"GET", "/readyz", true, nil, "Readiness: database reachable, schema current (application/health+json)", s.readyz},
		{"GET", "/metrics", true, nil, "Prometheus metrics", s.serveMetrics},
		{"GET", "/syncservice", true, nil, "Test page of the sync service (200 healthy, 503 not)", s.syncServicePage},
		{"GET", "/bits", true, nil, "Test page of the transfer service (200 healthy, 503 not)", s.bitsPage},
		{"GET", "/izytron.iq/handshakeremoteservice.svc", true, nil, "Test page of the application server (200 healthy, 503 not)", s.handshakePage},

		{"POST", "/api/v1/handshake", true, nil, "Negotiate versions: server, schema, protocols, client releases, edition", s.handshake},
		{"POST", "/api/v1/login", true, nil, "Sign in with username and password; answers a bearer token", s.login},
		{"POST", "/api/v1/logout", false, nil, "Revoke the token of this request", s.logout},
		{"GET", "/api/v1/me", false, nil, "The signed-in user with role and grants", s.me},
		{"PUT", "/api/v1/me/password", false, nil, "Change the own password (current_password, new_password)", s.changePassword},
		{"GET", "/api/v1/dashboard", false, nil, "Devices and instruments per colour, today, within the caller's grants", s.dashboard},

		{"GET", "/api/v1/customers", false, nil, "List customers (q, limit, cursor)", s.listCustomers},
		{"POST", "/api/v1/customers", false, adminOnly, "Create a customer", s.createCustomer},
		{"GET", "/api/v1/customers/{id}", false, nil, "Get a customer", s.getCustomer},
		{"PUT", "/api/v1/customers/{id}", false, clerks, "Replace a customer (with version; write grant)", s.putCustomer},
		{"PATCH", "/api/v1/customers/{id}", false, clerks, "Change fields of a customer (with version; write grant)", s.patchCustomer},
		{"DELETE", "/api/v1/customers/{id}", false, adminOnly, "Delete a customer without locations, devices or tests", s.deleteCustomer},

		{"GET", "/api/v1/locations", false, nil, "List locations (customer_id, parent_id, limit, cursor)", s.listLocations},
		{"POST", "/api/v1/locations", false, fieldStaff, "Create a location (write grant)", s.createLocation},
		{"GET", "/api/v1/locations/{id}", false, nil, "Get a location", s.getLocation},
		{"PUT", "/api/v1/locations/{id}", false, fieldStaff, "Replace a location (with version; write grant)", s.putLocation},
		{"PATCH", "/api/v1/locations/{id}", false, fieldStaff, "Change fields of a location (with version; write grant)", s.patchLocation},
		{"DELETE", "/api/v1/locations/{id}", false, fieldStaff, "Delete a location without children or devices", s.deleteLocation},

		{"GET", "/api/v1/devices", false, nil, "List devices (customer_id, location_id, colour, status, q, limit, cursor)", s.listDevices},
		{"POST", "/api/v1/devices", false, fieldStaff, "Create a device (write grant)", s.createDevice},
		{"GET", "/api/v1/devices/{id}", false, nil, "Get a device with colour", s.getDevice},
		{"PUT", "/api/v1/devices/{id}", false, fieldStaff, "Replace a device (with version; write grant)", s.putDevice},
		{"PATCH", "/api/v1/devices/{id}", false, fieldStaff, "Change fields of a device (with version; write grant)", s.patchDevice},
		{"DELETE", "/api/v1/devices/{id}", false, fieldStaff, "Retire a device", s.retireDevice},

		{"GET", "/api/v1/instruments", false, nil, "List test instruments (colour, limit, cursor)", s.listInstruments},
		{"POST", "/api/v1/instruments", false, clerks, "Create a test instrument", s.createInstrument},
		{"GET", "/api/v1/instruments/{id}", false, nil, "Get a test instrument with colour", s.getInstrument},
		{"PUT", "/api/v1/instruments/{id}", false, clerks, "Replace a test instrument (with version)", s.putInstrument},
		{"PATCH", "/api/v1/instruments/{id}", false, clerks, "Change fields of a test instrument (with version)", s.patchInstrument},
		{"DELETE", "/api/v1/instruments/{id}", false, clerks, "Retire a test instrument", s.retireInstrument},

		{"GET", "/api/v1/tests", false, nil, "List tests (device_id, customer_id, result, limit, cursor)", s.listTests},
		{"POST", "/api/v1/tests", false, testers, "Record a test; the server evaluates limits, result and next due (write grant)", s.createTest},
		{"GET", "/api/v1/tests/{id}", false, nil, "Get a test with its measurements", s.getTest},

		{"GET", "/api/v1/users", false, adminOnly, "List users", s.listUsers},
		{"POST", "/api/v1/users", false, adminOnly, "Create a user with password, role and grants", s.createUser},
		{"GET", "/api/v1/users/{id}", false, adminOnly, "Get a user", s.getUser},
		{"PUT", "/api/v1/users/{id}", false, adminOnly, "Replace a user (with version; optional new password)", s.putUser},
		{"PATCH", "/api/v1/users/{id}", false, adminOnly, "Change fields of a user (with version; optional new password)", s.patchUser},
		{"DELETE", "/api/v1/users/{id}", false, adminOnly, "Disable a user", s.disableUser},

		{"GET", "/api/v1/audit", false, adminOnly, "Audit log, newest first (entity, entity_id, limit, cursor)", s.listAudit},

		{"POST", "/api/v1/checkouts", false, testers, "Check out a customer or location subtree for offline work (shared or exclusive; write grant)", s.sync(s.downloading(s.createCheckout))},
		{"GET", "/api/v1/checkouts", false, nil, "List open checkouts (admin: all; others: their own)", s.sync(s.listCheckouts)},
		{"GET", "/api/v1/checkouts/{id}", false, nil, "Get a checkout with state and open conflicts", s.sync(s.getCheckout)},
		{"DELETE", "/api/v1/checkouts/{id}", false, testers, "Check in (release) a checkout; refused while conflicts are open", s.sync(s.releaseCheckout)},
		{"GET", "/api/v1/checkouts/{id}/snapshot", false, nil, "Snapshot page in key order (cursor, limit) with count, checksum, totals", s.sync(s.downloading(s.snapshot))},
		{"GET", "/api/v1/checkouts/{id}/changes", false, nil, "Changes since a seq, tombstones included (since, limit)", s.sync(s.downloading(s.changes))},
		{"POST", "/api/v1/checkouts/{id}/ack", false, testers, "Acknowledge the changes held up to seq", s.sync(s.ackCheckout)},
		{"POST", "/api/v1/checkouts/{id}/uploads", false, testers, "Upload an idempotent batch of offline mutations", s.sync(s.upload)},
		{"GET", "/api/v1/conflicts", false, nil, "List conflicts (checkout_id, status)", s.sync(s.listConflicts)},
		{"GET", "/api/v1/conflicts/{id}", false, nil, "Get a conflict with base, server and client values", s.sync(s.getConflict)},
		{"POST", "/api/v1/conflicts/{id}/resolve", false, testers, "Resolve a conflict (keep_server, take_client, merge, create_new)", s.sync(s.resolveConflict)},

		{"GET", "/api/v1/client-releases/current", false, nil, "The newest izy release for a platform (platform=OS/ARCH): signed manifest and public key", s.currentClientRelease},
		{"GET", "/api/v1/client-releases/{version}/{os}/{arch}/izy", false, nil, "Download a published izy build (HEAD; Range, ETag, If-Range)", s.clientReleaseBinary},

		{"POST", "/bits/sessions", false, fieldStaff, "Open a resumable upload session (size, sha256)", s.bits(func(t Transfers) apiFunc { return t.CreateSession })},
		{"GET", "/bits/sessions/{id}", false, fieldStaff, "Upload session status: received ranges, next offset", s.bits(func(t Transfers) apiFunc { return t.GetSession })},
		{"PUT", "/bits/sessions/{id}", false, fieldStaff, "Upload one fragment (Content-Range; retried or out of order)", s.bits(func(t Transfers) apiFunc { return t.PutFragment })},
		{"POST", "/bits/sessions/{id}/close", false, fieldStaff, "Verify SHA-256 and store the blob", s.bits(func(t Transfers) apiFunc { return t.CloseSession })},
		{"DELETE", "/bits/sessions/{id}", false, fieldStaff, "Cancel an upload session", s.bits(func(t Transfers) apiFunc { return t.CancelSession })},
		{"GET", "/bits/blobs/{sha256}", false, nil, "Download a blob (HEAD for size; Range, ETag, If-Range)", s.bits(func(t Transfers) apiFunc { return t.GetBlob })},
	}
}
