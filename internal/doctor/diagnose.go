package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/service"
)

// Codes of the troubleshooting cases Diagnose finds (the service's come from
// service.Problem codes).
const (
	CodeSettingMissing = "database_setting_missing" // the manual's missing registry entry
	CodeNotWritable    = "not_writable"             // the manual's "could not write value"
	CodeLoginRefused   = "database_login_refused"   // the manual's "login from an untrusted domain"
	CodeUnreachable    = "database_unreachable"
	CodeVersionSkew    = "version_skew"
)

// Backup is a complete backup as Diagnose needs it.
type Backup struct {
	ID        string
	CreatedAt time.Time
	Dialect   string // sqlite or postgres
	// ConfigFile is the backup's copy of the configuration; "" when it has none.
	ConfigFile string
}

// Options say what Diagnose looks at and may repair.
type Options struct {
	// ConfigPath is the configuration file; Database its [database] settings as in
	// effect.
	ConfigPath string
	Database   DatabaseSettings
	// DSN is the database in effect, DSNErr why there is none; SQLiteFile the default
	// SQLite file in the data directory.
	DSN        string
	DSNErr     error
	SQLiteFile string
	Connect    Connect
	// Dirs must be writable.
	Dirs []Dir
	// Service, ServiceName and DataDir find the registration and its record;
	// ThisBinary is what a registration with a missing binary is pointed at.
	Service     service.Manager
	ServiceName string
	DataDir     string
	ThisBinary  string
	// Backups are the complete backups, newest first.
	Backups []Backup
	// ProductVersion and ProtocolVersion are this binary's.
	ProductVersion  string
	ProtocolVersion int
	// BaseURL is where a running server may answer; Timeout bounds the request.
	BaseURL string
	Timeout time.Duration
	// Fix repairs what is safe to repair and says what it changed.
	Fix bool
}

// Diagnose looks for each of the manual's troubleshooting cases and, with o.Fix,
// repairs what can be repaired. A repaired case is reported as passed, with Changed.
func Diagnose(ctx context.Context, o Options) []Result {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	var rs []Result
	rs = append(rs, diagnoseService(ctx, o)...)
	setting := diagnoseSetting(ctx, &o)
	rs = append(rs, setting)
	rs = append(rs, CheckWritable(o.Dirs)...)
	login, conn := diagnoseLogin(ctx, &o, setting.Status == StatusFail)
	rs = append(rs, login)
	if conn != nil {
		defer conn.Close()
	}
	rs = append(rs, diagnoseVersions(ctx, o, conn))
	return rs
}

func diagnoseService(ctx context.Context, o Options) []Result {
	name := "service registration"
	if o.Service == nil {
		return []Result{{Name: name, Status: StatusWarn, Detail: "no service manager on this platform"}}
	}
	if SystemdDown(ctx, o.Service) {
		// The unit file can still be checked and written; only systemctl is unavailable.
		name += " (systemd not running)"
	}
	problems, st, err := service.Diagnose(ctx, o.Service, o.DataDir, o.ServiceName)
	if err != nil {
		return []Result{{Name: name, Status: StatusFail, Detail: err.Error(), Fix: "see izytroniq service status"}}
	}
	if len(problems) == 0 {
		return []Result{{Name: name, Status: StatusPass, Detail: fmt.Sprintf("service %s is registered as recorded, runs as %s", st.Name, st.User)}}
	}
	var rs []Result
	for _, p := range problems {
		r := Result{Name: name, Code: p.Code, Status: StatusFail, Detail: p.Message, Fix: p.Fix, Fixable: p.Fixable}
		if p.Code == service.ProblemRegistrationMissing {
			r.Detail += ". This is the manual's vanished application pool: the registration, and with it the account the service runs as, was removed (by hand, by an uninstaller, or by a package that re-created it)"
		}
		if p.Code == service.ProblemNotInstalled {
			r.Status = StatusWarn
		}
		if o.Fix && p.Fixable {
			changed, err := fixService(ctx, o, p, st)
			if err != nil {
				r.Changed = []string{"could not repair: " + err.Error()}
			} else {
				r.Status, r.Changed = StatusPass, changed
				r.Detail += " — repaired"
			}
		}
		rs = append(rs, r)
	}
	return rs
}

func fixService(ctx context.Context, o Options, p service.Problem, st service.Status) ([]string, error) {
	switch p.Code {
	case service.ProblemRegistrationMissing:
		rec, err := service.LoadRecord(o.DataDir)
		if err != nil {
			return nil, err
		}
		err = o.Service.Install(ctx, rec)
		if err != nil && !errors.Is(err, service.ErrSystemdNotRunning) {
			return nil, err
		}
		changed := []string{fmt.Sprintf("registered service %s again: runs %s %s as %s", rec.Name, rec.BinaryPath, strings.Join(rec.Args, " "), rec.User)}
		if err != nil {
			changed = append(changed, err.Error())
		}
		return changed, nil
	case service.ProblemBinaryMissing:
		if o.ThisBinary == "" {
			return nil, errors.New("this binary's path is unknown")
		}
		if err := o.Service.Repoint(ctx, st.Name, o.ThisBinary); err != nil && !errors.Is(err, service.ErrSystemdNotRunning) {
			return nil, err
		}
		return []string{fmt.Sprintf("pointed service %s at %s (was %s); account and arguments kept", st.Name, o.ThisBinary, st.BinaryPath)}, nil
	case service.ProblemNotRecorded:
		spec := service.Spec{Name: st.Name, BinaryPath: st.BinaryPath, Args: st.Args, User: st.User}
		if err := service.Record(o.DataDir, spec); err != nil {
			return nil, err
		}
		return []string{fmt.Sprintf("recorded service %s (account %s) in %s", st.Name, st.User, filepath.Join(o.DataDir, service.RecordFile))}, nil
	}
	return nil, errors.New("doctor cannot repair this")
}

// diagnoseSetting finds the missing database setting: none configured (or dsn_file
// empty or missing), no SQLite file in the data directory, yet backups say PostgreSQL
// was used.
func diagnoseSetting(ctx context.Context, o *Options) Result {
	r := Result{Name: "database setting", Code: CodeSettingMissing}
	var detail string
	switch {
	case o.DSNErr != nil:
		detail = "the database setting is unusable: " + o.DSNErr.Error()
	case o.Database.Empty() && !fileExists(o.SQLiteFile) && usedPostgres(o.Backups):
		detail = fmt.Sprintf("the configuration names no database (database.dsn and database.dsn_file are empty) and there is no SQLite file %s, but the backups show this installation used PostgreSQL", o.SQLiteFile)
	default:
		r.Code, r.Status = "", StatusPass
		if o.Database.Empty() {
			r.Detail = "no database configured: the SQLite file " + o.SQLiteFile
		} else {
			r.Detail = "database configured: " + Redact(o.DSN)
		}
		return r
	}
	r.Status = StatusFail
	r.Detail = detail + ". This is the manual's missing registry entry: the connection setting was lost, so the server would start on an empty database instead of yours"
	cand, ok := pickBackupSettings(ctx, *o, false)
	r.Fixable = ok
	if ok {
		r.Fix = fmt.Sprintf("izytroniq doctor --fix restores the [database] section of backup %s (%s)", cand.backup.ID, cand.note)
	} else {
		r.Fix = "set database.dsn in " + o.ConfigPath + " (no backup holds a configuration with database settings)"
	}
	if o.Fix && ok {
		changed, err := restoreSettings(o, cand)
		if err != nil {
			r.Changed = []string{"could not repair: " + err.Error()}
			return r
		}
		r.Status, r.Changed = StatusPass, changed
		r.Detail += " — repaired"
	}
	return r
}

func usedPostgres(bs []Backup) bool {
	for _, b := range bs {
		if b.Dialect == "postgres" {
			return true
		}
	}
	return false
}

// candidate is a backup's database settings that could replace the current ones.
type candidate struct {
	backup   Backup
	dsn      string
	settings []byte // the backup's whole configuration file
	note     string
}

// pickBackupSettings returns the newest backup configuration whose database settings
// differ from the current ones and connect; without needConnect, the newest one that
// differs when none connects.
func pickBackupSettings(ctx context.Context, o Options, needConnect bool) (candidate, bool) {
	dir := filepath.Dir(o.ConfigPath)
	var fallback *candidate
	for _, b := range o.Backups {
		if b.ConfigFile == "" || o.ConfigPath == "" {
			continue
		}
		s, err := ReadDatabaseSettings(b.ConfigFile)
		if err != nil || s.Empty() {
			continue
		}
		dsn, err := s.ResolveDSN(dir)
		if err != nil || (dsn == o.DSN && o.DSNErr == nil && !o.Database.Empty()) {
			continue
		}
		raw, err := os.ReadFile(b.ConfigFile)
		if err != nil {
			continue
		}
		c := candidate{backup: b, dsn: dsn, settings: raw}
		if o.Connect != nil {
			if conn, err := open(ctx, o.Connect, dsn); err == nil {
				conn.Close()
				c.note = "its database answers: " + Redact(dsn)
				return c, true
			} else if fallback == nil {
				c.note = "made " + b.CreatedAt.Format(time.DateTime) + "; its database does not answer now: " + ClassifyConnectError(err, dsn).Explanation
				fallback = &c
			}
		}
	}
	if fallback != nil && !needConnect {
		return *fallback, true
	}
	return candidate{}, false
}

// restoreSettings writes the candidate's [database] section into the configuration.
func restoreSettings(o *Options, c candidate) ([]string, error) {
	cur, err := os.ReadFile(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	nb, err := ReplaceDatabaseSection(cur, c.settings)
	if err != nil {
		return nil, err
	}
	bak, err := WriteConfig(o.ConfigPath, nb)
	if err != nil {
		return nil, err
	}
	changed := []string{fmt.Sprintf("restored the [database] section of %s from backup %s (%s)", o.ConfigPath, c.backup.ID, c.backup.CreatedAt.Format(time.DateTime))}
	changed = append(changed, SectionDiff(cur, nb)...)
	changed = append(changed, "the previous configuration is kept as "+bak)
	o.DSN, o.DSNErr = c.dsn, nil
	if s, err := ReadDatabaseSettings(o.ConfigPath); err == nil {
		o.Database = s
	}
	return changed, nil
}

// diagnoseLogin connects to the database and explains a refusal. It returns the open
// connection for the version check.
func diagnoseLogin(ctx context.Context, o *Options, settingBroken bool) (Result, DB) {
	r := Result{Name: "database login"}
	if settingBroken {
		r.Status, r.Detail = StatusFail, "not tried: no database setting"
		return r, nil
	}
	conn, err := open(ctx, o.Connect, o.DSN)
	if err == nil {
		r.Status, r.Detail = StatusPass, fmt.Sprintf("%s accepted the login of %s", Redact(o.DSN), identity(o.DSN))
		return r, conn
	}
	f := ClassifyConnectError(err, o.DSN)
	r.Status, r.Detail, r.Fix = StatusFail, f.Explanation, f.Fix
	switch f.Kind {
	case ConnectLoginRefused:
		r.Code = CodeLoginRefused
		r.Detail += ". This is the manual's \"login from an untrusted domain\": the database does not accept the identity the server connects as"
		cand, ok := pickBackupSettings(ctx, *o, true)
		r.Fixable = ok
		if ok {
			r.Fix = fmt.Sprintf("izytroniq doctor --fix restores the [database] section of backup %s, %s; or %s", cand.backup.ID, cand.note, f.Fix)
			if o.Fix {
				changed, err := restoreSettings(o, cand)
				if err != nil {
					r.Changed = []string{"could not repair: " + err.Error()}
					return r, nil
				}
				r.Status, r.Changed = StatusPass, changed
				r.Detail += " — repaired"
				conn, err := open(ctx, o.Connect, o.DSN)
				if err != nil {
					return r, nil
				}
				return r, conn
			}
		}
	case ConnectNoFile:
		r.Code = CodeUnreachable
		r.Fix = "create the database: izytroniq db upgrade (or izytroniq init for a new installation)"
	default:
		r.Code = CodeUnreachable
	}
	return r, nil
}

// diagnoseVersions compares this binary, database_info and a running server's
// handshake.
func diagnoseVersions(ctx context.Context, o Options, conn DB) Result {
	r := Result{Name: "versions", Code: CodeVersionSkew}
	var problems, seen []string
	fix := ""
	seen = append(seen, "this binary "+o.ProductVersion)
	if conn != nil {
		cur, want, err := conn.SchemaVersions(ctx)
		info, ierr := conn.Info(ctx)
		switch {
		case err != nil || ierr != nil:
			problems = append(problems, "database_info cannot be read: "+errors.Join(err, ierr).Error())
		default:
			seen = append(seen, fmt.Sprintf("database schema %d (binary needs %d), product %s", cur, want, orDefault(info["product_version"], "unknown")))
			switch {
			case cur < want:
				problems = append(problems, fmt.Sprintf("the database is at schema %d, older than this binary's %d (last written by %s)", cur, want, orDefault(info["product_version"], "an unknown version")))
				fix = "upgrade the database: izytroniq db upgrade, or finish the update: izytroniq update"
			case cur > want:
				problems = append(problems, fmt.Sprintf("the database is at schema %d, newer than this binary's %d (upgraded by %s)", cur, want, orDefault(info["product_version"], "a newer version")))
				fix = "run the version that upgraded the database (finish or roll back the update), or restore a backup made by this version"
			}
		}
	}
	if o.BaseURL != "" {
		sv, ss, err := handshake(ctx, o)
		switch {
		case err != nil:
			seen = append(seen, "no running server answered at "+o.BaseURL)
		default:
			seen = append(seen, fmt.Sprintf("running server %s (schema %d)", sv, ss))
			if sv != o.ProductVersion {
				problems = append(problems, fmt.Sprintf("the server running at %s is version %s, this binary is %s", o.BaseURL, sv, o.ProductVersion))
				if fix == "" {
					fix = "restart the service so it runs the installed binary (systemctl restart izytroniq), or finish the update: izytroniq update"
				}
			}
		}
	}
	if len(problems) == 0 {
		r.Code, r.Status, r.Detail = "", StatusPass, strings.Join(seen, "; ")
		return r
	}
	r.Status, r.Fix = StatusFail, fix
	r.Detail = strings.Join(problems, "; ") + ". Server roles and the database must run the same version (seen: " + strings.Join(seen, "; ") + ")"
	return r
}

// handshake asks a running server for its versions.
func handshake(ctx context.Context, o Options) (string, int, error) {
	body, _ := json.Marshal(map[string]any{"client_version": o.ProductVersion, "protocol_version": max(o.ProtocolVersion, 1), "client_id": "izytroniq-doctor"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.BaseURL+"/api/v1/handshake", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := httpClient(o.Timeout)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("handshake answered %d", resp.StatusCode)
	}
	var h struct {
		ServerVersion string `json:"server_version"`
		SchemaVersion int    `json:"schema_version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return "", 0, err
	}
	return h.ServerVersion, h.SchemaVersion, nil
}
