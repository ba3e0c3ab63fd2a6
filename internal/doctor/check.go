package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/izytroniq/izytroniq/internal/service"
)

// TLS certificate limits: a certificate that expires sooner fails or warns.
const (
	CertFailWithin = 14 * 24 * time.Hour
	CertWarnWithin = 30 * 24 * time.Hour
)

// TestPages are the paths `check` expects to answer 200: health, readiness and the
// three test pages of the manual's system.
var TestPages = []string{"/livez", "/readyz", "/syncservice", "/bits", "/izytron.iq/handshakeremoteservice.svc"}

// CheckOptions say what `check` looks at.
type CheckOptions struct {
	// ConfigPath is the configuration file ("" when none was read).
	ConfigPath string
	// DSN is the database to check; DSNErr is why there is none.
	DSN    string
	DSNErr error
	// Connect opens the database.
	Connect Connect
	// ProductVersion is this binary's version.
	ProductVersion string
	// Service is the service manager; ServiceName the registration; DataDir holds its
	// record.
	Service     service.Manager
	ServiceName string
	DataDir     string
	// LogFile is the server's log file.
	LogFile string
	// BaseURL is where the running server answers, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Timeout bounds each HTTP request; 0 means 3 s.
	Timeout time.Duration
	// TLSCert and TLSKey are the configured certificate and key ("" for none).
	TLSCert, TLSKey string
	// Licence is the installed licence as judged now; the zero value means none
	// (evaluation).
	Licence Licence
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Check runs every post-update check of the manual, and more, in order.
func Check(ctx context.Context, o CheckOptions) []Result {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	rs := []Result{{Name: "config", Status: StatusPass, Detail: "parses and is valid: " + orDefault(o.ConfigPath, "no file, defaults and environment")}}
	rs = append(rs, checkDatabase(ctx, o)...)
	rs = append(rs, CheckService(ctx, o.Service, o.DataDir, o.ServiceName))
	rs = append(rs, CheckLog(o.LogFile))
	rs = append(rs, CheckHTTP(ctx, o.BaseURL, o.Timeout)...)
	rs = append(rs, CheckTLS(o.TLSCert, o.TLSKey, o.Now()))
	rs = append(rs, checkLicence(o.Licence))
	return rs
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// checkDatabase checks that the database answers and holds the versions this binary
// expects.
func checkDatabase(ctx context.Context, o CheckOptions) []Result {
	db := Result{Name: "database"}
	schema := Result{Name: "schema version"}
	if o.DSNErr != nil {
		db.Status, db.Detail, db.Fix = StatusFail, o.DSNErr.Error(), "set database.dsn or database.dsn_file in the configuration; izytroniq doctor explains"
		schema.Status, schema.Detail = StatusFail, "not checked: no database"
		return []Result{db, schema}
	}
	conn, err := open(ctx, o.Connect, o.DSN)
	if err != nil {
		l := ClassifyConnectError(err, o.DSN)
		db.Status, db.Detail, db.Fix = StatusFail, fmt.Sprintf("%s: %s", Redact(o.DSN), l.Explanation), l.Fix
		schema.Status, schema.Detail = StatusFail, "not checked: no database"
		return []Result{db, schema}
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		db.Status, db.Detail, db.Fix = StatusFail, err.Error(), "start the database server, or fix database.dsn; izytroniq doctor explains"
	} else {
		db.Status, db.Detail = StatusPass, fmt.Sprintf("%s answers (%s)", Redact(o.DSN), conn.Dialect())
	}
	schema = checkVersions(ctx, conn, o.ProductVersion)
	return []Result{db, schema}
}

// checkVersions compares database_info's schema_version and product_version with this
// binary's: the manual's "select value from Database_Info".
func checkVersions(ctx context.Context, conn DB, product string) Result {
	r := Result{Name: "schema version"}
	cur, want, err := conn.SchemaVersions(ctx)
	if err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, "cannot read database_info: "+err.Error(), "check the database account's rights"
		return r
	}
	info, err := conn.Info(ctx)
	if err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, "cannot read database_info: "+err.Error(), "check the database account's rights"
		return r
	}
	dbProduct := info["product_version"]
	switch {
	case cur < want:
		r.Status, r.Detail, r.Fix = StatusFail,
			fmt.Sprintf("database_info.schema_version is %d, this binary needs %d (database written by %s)", cur, want, orDefault(dbProduct, "an unknown version")),
			"upgrade the database: izytroniq db upgrade (or finish the update with izytroniq update)"
	case cur > want && schemaCompatible(ctx, conn):
		r.Status, r.Detail, r.Fix = StatusWarn,
			fmt.Sprintf("database_info.schema_version is %d, newer than this binary's %d (upgraded by %s) by expand migrations only: this binary runs on it", cur, want, orDefault(dbProduct, "a newer version")),
			"usually an update that was rolled back; update again when its cause is fixed (izytroniq update history says what happened)"
	case cur > want:
		r.Status, r.Detail, r.Fix = StatusFail,
			fmt.Sprintf("database_info.schema_version is %d, newer than this binary's %d (upgraded by %s)", cur, want, orDefault(dbProduct, "a newer version")),
			"run the izytroniq version that upgraded the database, or restore a backup: izytroniq backup restore"
	case dbProduct != "" && dbProduct != product:
		r.Status, r.Detail, r.Fix = StatusWarn,
			fmt.Sprintf("schema version %d as expected, but database_info.product_version is %s and this binary is %s", cur, dbProduct, product),
			"nothing needs to change for the schema; izytroniq db upgrade records this binary's version"
	default:
		r.Status, r.Detail = StatusPass, fmt.Sprintf("schema version %d, product version %s", cur, orDefault(dbProduct, product))
	}
	return r
}

// SystemdDown reports whether m is systemd and systemd is not running (containers,
// chroots, machines booted with another init).
func SystemdDown(ctx context.Context, m service.Manager) bool {
	s, ok := m.(*service.Systemd)
	if !ok {
		return false
	}
	run := s.Systemctl
	if run == nil {
		run = service.RunSystemctl
	}
	_, err := run(ctx, "--version")
	return errors.Is(err, service.ErrSystemdNotRunning)
}

// CheckService checks that the service is registered as recorded and running.
func CheckService(ctx context.Context, m service.Manager, dataDir, name string) Result {
	r := Result{Name: "service"}
	if m == nil {
		r.Status, r.Detail = StatusWarn, "no service manager on this platform"
		return r
	}
	if SystemdDown(ctx, m) {
		r.Status, r.Detail, r.Fix = StatusWarn, "systemd not running: the service registration cannot be checked on this machine",
			"run the server under your supervisor, or check on the host that runs systemd"
		return r
	}
	problems, st, err := service.Diagnose(ctx, m, dataDir, name)
	if err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, err.Error(), "see izytroniq service status"
		return r
	}
	if len(problems) > 0 {
		r.Status, r.Detail, r.Fix = StatusFail, problems[0].Message, problems[0].Fix
		return r
	}
	if !st.Running {
		r.Status, r.Detail = StatusFail, fmt.Sprintf("service %s is registered (runs as %s) but not running: %s", st.Name, st.User, st.State)
		r.Fix = "start it: systemctl start " + st.Name + " (Windows: sc.exe start " + st.Name + ")"
		return r
	}
	r.Status, r.Detail = StatusPass, fmt.Sprintf("service %s runs as %s (%s)", st.Name, st.User, st.State)
	return r
}

// logLine is the part of a JSON log line CheckLog reads.
type logLine struct {
	Time  string `json:"time"`
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Err   string `json:"err"`
}

// CheckLog looks for ERROR lines in the log since the server's last "starting" line:
// the manual's "the SyncService logs no error when started".
func CheckLog(path string) Result {
	r := Result{Name: "log"}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		r.Status, r.Detail, r.Fix = StatusWarn, path+" does not exist: the server has not started with this data directory", "start the server"
		return r
	}
	if err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, err.Error(), "make the log readable for the account that runs check"
		return r
	}
	defer f.Close()
	var errs []logLine
	started := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Msg == "starting" {
			errs, started = errs[:0], true
			continue
		}
		if l.Level == "ERROR" {
			errs = append(errs, l)
		}
	}
	if err := sc.Err(); err != nil {
		r.Status, r.Detail = StatusFail, "read "+path+": "+err.Error()
		return r
	}
	since := "since the last start"
	if !started {
		since = "(no start recorded)"
	}
	if len(errs) > 0 {
		first := errs[0]
		msg := first.Msg
		if first.Err != "" {
			msg += ": " + first.Err
		}
		r.Status = StatusFail
		r.Detail = fmt.Sprintf("%d error(s) logged %s; the first at %s: %s", len(errs), since, first.Time, msg)
		r.Fix = "read " + path + " and fix the cause, then restart the service"
		return r
	}
	r.Status, r.Detail = StatusPass, "no error logged "+since
	return r
}

// httpClient is a client with a short timeout. It does not verify the certificate:
// CheckTLS checks it, and the pages are checked for their answer, not their identity.
func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
			Proxy:           nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckHTTP asks the running server for each of TestPages and wants 200.
func CheckHTTP(ctx context.Context, base string, timeout time.Duration) []Result {
	c := httpClient(timeout)
	defer c.CloseIdleConnections()
	var rs []Result
	for _, p := range TestPages {
		r := Result{Name: "GET " + p}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
		if err != nil {
			r.Status, r.Detail, r.Fix = StatusFail, err.Error(), "check listen in the configuration, or pass --url"
			rs = append(rs, r)
			continue
		}
		resp, err := c.Do(req)
		if err != nil {
			r.Status, r.Detail, r.Fix = StatusFail, "no answer: "+err.Error(), "start the server (systemctl start izytroniq), or pass the server's address with --url"
			rs = append(rs, r)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			r.Status = StatusFail
			r.Detail = fmt.Sprintf("%s answered %d: %s", base+p, resp.StatusCode, oneLine(string(body)))
			r.Fix = "read the server's log (logs/izytroniq.log in the data directory)"
		} else {
			r.Status, r.Detail = StatusPass, base+p+" answered 200"
		}
		rs = append(rs, r)
	}
	return rs
}

func oneLine(s string) string {
	b := []rune(s)
	if len(b) > 160 {
		b = append(b[:160], '…')
	}
	for i, r := range b {
		if r == '\n' || r == '\r' || r == '\t' {
			b[i] = ' '
		}
	}
	return string(b)
}

// CheckTLS checks the configured certificate: readable, matching its key, valid now,
// and not expiring within CertFailWithin (a warning within CertWarnWithin).
func CheckTLS(certFile, keyFile string, now time.Time) Result {
	r := Result{Name: "tls certificate"}
	if certFile == "" {
		r.Status, r.Detail = StatusPass, "not configured: the server speaks plain HTTP"
		return r
	}
	renew := "renew the certificate and key, and point tls.cert and tls.key at them"
	b, err := os.ReadFile(certFile)
	if err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, "cannot read tls.cert: "+err.Error(), "make the file readable for the service account"
		return r
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, "certificate and key do not load: "+err.Error(), renew
		return r
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		r.Status, r.Detail, r.Fix = StatusFail, certFile+" holds no PEM certificate", renew
		return r
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		r.Status, r.Detail, r.Fix = StatusFail, "parse "+certFile+": "+err.Error(), renew
		return r
	}
	left := cert.NotAfter.Sub(now)
	days := strconv.Itoa(int(left.Hours() / 24))
	subject := cert.Subject.CommonName
	if subject == "" && len(cert.DNSNames) > 0 {
		subject = cert.DNSNames[0]
	}
	until := cert.NotAfter.UTC().Format("2006-01-02")
	switch {
	case now.Before(cert.NotBefore):
		r.Status, r.Detail, r.Fix = StatusFail, fmt.Sprintf("certificate %s is not valid before %s", subject, cert.NotBefore.UTC().Format(time.DateOnly)), "check the clock, or use a certificate valid now"
	case left <= 0:
		r.Status, r.Detail, r.Fix = StatusFail, fmt.Sprintf("certificate %s expired on %s", subject, until), renew
	case left < CertFailWithin:
		r.Status, r.Detail, r.Fix = StatusFail, fmt.Sprintf("certificate %s expires in %s days (%s)", subject, days, until), renew
	case left < CertWarnWithin:
		r.Status, r.Detail, r.Fix = StatusWarn, fmt.Sprintf("certificate %s expires in %s days (%s)", subject, days, until), renew
	default:
		r.Status, r.Detail = StatusPass, fmt.Sprintf("certificate %s valid until %s (%s days)", subject, until, days)
	}
	return r
}

// Licence describes the installed licence for the licence check: its status (valid,
// expiring, expired, invalid; "" or evaluation for none), a description for people
// and, for an invalid or expired one, why.
type Licence struct {
	Status string
	Detail string
	Err    error
}

func checkLicence(l Licence) Result {
	r := Result{Name: "licence"}
	switch l.Status {
	case "", "evaluation":
		r.Status, r.Detail = StatusWarn, "evaluation (no licence installed)"
		r.Fix = "nothing to do while evaluating; install a licence with izytroniq license install FILE"
	case "valid":
		r.Status, r.Detail = StatusPass, l.Detail
	case "expiring":
		r.Status, r.Detail = StatusWarn, l.Detail
		r.Fix = "ask for a renewed licence and install it with izytroniq license install FILE before it expires"
	case "expired":
		r.Status, r.Detail = StatusFail, joinDetail(l.Detail, l.Err)
		r.Fix = "the server runs in evaluation mode; install a renewed licence with izytroniq license install FILE"
	default:
		r.Status, r.Detail = StatusFail, joinDetail(l.Detail, l.Err)
		r.Fix = "the server runs in evaluation mode; install a licence signed by a key in license.trusted_keys " +
			"(izytroniq license install FILE checks it first), or add the issuer's public key to license.trusted_keys"
	}
	return r
}

func joinDetail(detail string, err error) string {
	switch {
	case err == nil:
		return detail
	case detail == "":
		return err.Error()
	}
	return detail + ": " + err.Error()
}

// schemaCompatible reports whether conn's database, newer than this binary's schema, holds
// only expand migrations past it (docs/migrations.md), so this binary still runs on it.
func schemaCompatible(ctx context.Context, conn DB) bool {
	c, ok := conn.(interface {
		SchemaCompatible(context.Context) (bool, error)
	})
	if !ok {
		return false
	}
	ok, err := c.SchemaCompatible(ctx)
	return err == nil && ok
}
