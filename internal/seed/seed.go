// Package seed generates realistic German sample data — customers, location trees,
// devices, instruments, users and years of evaluated tests — for demos and benchmarks.
package seed

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Loader is where generated rows go, in an order that satisfies foreign keys: customers,
// then users with their grants, instruments, and for each customer its locations, then
// each device followed by its tests. cmd/izytroniq passes sqldb's bulk loader.
type Loader interface {
	Customer(c *izy.Customer) error
	User(u *izy.User, passwordHash string) error
	Instrument(i *izy.Instrument) error
	Location(l *izy.Location) error
	Device(d *izy.Device) error
	Test(t *izy.Test) error
}

// Options size the generated data. The zero value of a field picks its default.
type Options struct {
	Devices      int      // default 5,000
	Customers    int      // default one per 400 devices, at least 3 (at most Devices)
	YearsOfTests int      // how far the test history reaches back; default 3
	Measurements int      // when > 0, about this many measurements in all (histories grow or shrink to fit; every tested device keeps at least its last test)
	Seed         uint64   // the same seed and options give the same data
	Today        izy.Date // the day the data is "as of"; default today
	// Progress, when set, is called about every ProgressEvery devices and once at the end.
	Progress      func(Stats)
	ProgressEvery int // default 10% of the devices
}

// Stats counts what Generate wrote.
type Stats struct {
	Customers, Users, Instruments, Locations  int64
	Devices, Tests, FailedTests, Measurements int64
	// Colours counts active devices per dashboard colour on Options.Today with the
	// default escalation windows; Instruments likewise by calibration due date.
	Colours, InstrumentColours izy.ColourCounts
	Elapsed                    time.Duration
}

// Rows returns the number of rows written (measurements included).
func (s Stats) Rows() int64 {
	return s.Customers + s.Users + s.Instruments + s.Locations + s.Devices + s.Tests + s.Measurements
}

// InspectorPasswordHash is stored for the generated inspectors: it is no valid hash, so
// nobody can sign in as them until an administrator sets a password (izytroniq user passwd).
const InspectorPasswordHash = "!"

// Generate writes sample data to l. It stops early when ctx ends.
func Generate(ctx context.Context, l Loader, o Options) (Stats, error) {
	g, err := newGenerator(o)
	if err != nil {
		return Stats{}, err
	}
	p := newPipe(l)
	g.l = p
	var genErr error
	go func() {
		defer p.close()
		genErr = g.run(ctx)
	}()
	loadErr := p.drain()
	g.stats.Elapsed = time.Since(g.start)
	if loadErr != nil {
		return g.stats, loadErr
	}
	return g.stats, genErr
}

type generator struct {
	o     Options
	l     Loader
	rng   *rand.Rand
	stats Stats
	start time.Time

	idMS   int64 // time part of the next ID
	serial int64 // makes serial numbers and tags unique

	customers   []*izy.Customer
	kinds       []*customerKind
	sizes       []int // devices per customer
	inspectors  []*izy.User
	instruments []*izy.Instrument

	oldStandard, newStandard, medStandard string

	rules   map[string]*izy.RuleSet
	devices int64 // devices made so far, for the measurement budget
}

func newGenerator(o Options) (*generator, error) {
	if o.Devices == 0 {
		o.Devices = 5000
	}
	if o.Devices < 0 {
		return nil, fmt.Errorf("seed: devices must not be negative")
	}
	if o.Customers == 0 {
		o.Customers = min(o.Devices, max(3, o.Devices/400))
	}
	if o.Customers < 1 || o.Customers > o.Devices {
		return nil, fmt.Errorf("seed: customers must be between 1 and the number of devices")
	}
	if o.YearsOfTests == 0 {
		o.YearsOfTests = 3
	}
	if o.YearsOfTests < 0 || o.YearsOfTests > 50 {
		return nil, fmt.Errorf("seed: years of tests must be between 1 and 50")
	}
	if o.Measurements < 0 {
		return nil, fmt.Errorf("seed: measurements must not be negative")
	}
	if o.Today.IsZero() {
		o.Today = izy.Today()
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = max(1, o.Devices/10)
	}
	g := &generator{
		o:     o,
		rng:   rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		start: time.Now(),
		// IDs count up from midnight before Today, so the same options give the same IDs.
		idMS: o.Today.AddDays(-1).Time().UnixMilli(),
	}
	g.oldStandard = izy.DefaultStandard
	// Recurrent tests follow DIN EN 50699 since 2021; medical devices IEC 62353 once the
	// domain has its rule set (until then they are tested like any other device).
	g.newStandard = firstKnownStandard(izy.DefaultStandard, "DIN EN 50699:2021", "DIN EN 50678:2021")
	g.medStandard = firstKnownStandard("", "IEC 62353:2014", "DIN EN 62353:2015")
	return g, nil
}

// firstKnownStandard returns the first name the domain knows a rule set for, else def.
func firstKnownStandard(def string, names ...string) string {
	for _, n := range names {
		if rs, err := izy.RuleSetFor(n); err == nil && rs != nil {
			return rs.Standard
		}
	}
	return def
}

// id returns a UUIDv7 whose time part counts up from the generator's start and whose
// random part comes from the seeded generator, so IDs are deterministic and sorted.
func (g *generator) id() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], g.rng.Uint64())
	r := g.rng.Uint32()
	g.idMS++
	ms := uint64(g.idMS)
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(r>>8)&0x0f
	b[7] = byte(r)
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexd[c>>4], hexd[c&0x0f]
		j += 2
	}
	return string(s[:])
}

func pick[T any](g *generator, s []T) T { return s[g.rng.IntN(len(s))] }

// between returns a uniformly random float in [lo, hi).
func (g *generator) between(lo, hi float64) float64 { return lo + g.rng.Float64()*(hi-lo) }

// chance reports true with probability p.
func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// stamp is a creation timestamp on day d, during working hours.
func (g *generator) stamp(d izy.Date) time.Time {
	return d.Time().Add(time.Duration(7*3600+g.rng.IntN(10*3600)) * time.Second)
}

func (g *generator) run(ctx context.Context) error {
	g.planCustomers()
	for _, c := range g.customers {
		if err := g.l.Customer(c); err != nil {
			return fmt.Errorf("seed customer %s: %w", c.Number, err)
		}
		g.stats.Customers++
	}
	if err := g.makeUsers(); err != nil {
		return err
	}
	if err := g.makeInstruments(); err != nil {
		return err
	}
	for i, c := range g.customers {
		if err := ctx.Err(); err != nil {
			return err
		}
		rooms, err := g.makeLocations(c, g.kinds[i], g.sizes[i])
		if err != nil {
			return err
		}
		for n := range g.sizes[i] {
			if n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := g.makeDevice(c, g.kinds[i], g.inspectors[i%len(g.inspectors)], pick(g, rooms), n+1); err != nil {
				return err
			}
		}
	}
	if g.o.Progress != nil {
		g.stats.Elapsed = time.Since(g.start)
		g.o.Progress(g.stats)
	}
	return nil
}

// planCustomers names the customers and shares the devices out by customer size.
func (g *generator) planCustomers() {
	total := 0
	for _, k := range customerKinds {
		total += k.weight
	}
	weights := make([]float64, g.o.Customers)
	sum := 0.0
	used := map[string]bool{}
	for i := range g.o.Customers {
		// Draw kinds by weight of occurrence (small businesses are common, clinics rare),
		// and sizes by the kind's weight (clinics are big).
		k := &customerKinds[[]int{0, 1, 2, 3, 3, 3, 4, 4, 5, 5}[g.rng.IntN(10)]]
		city := pick(g, cities)
		name := ""
		for try := 0; try < 20; try++ {
			name = fmt.Sprintf(pick(g, k.names), city.name, city.adjective, pick(g, surnames))
			if !used[name] {
				break
			}
		}
		if used[name] {
			name = fmt.Sprintf("%s (%d)", name, i+1)
		}
		used[name] = true
		first, last := pick(g, firstNames), pick(g, surnames)
		c := &izy.Customer{
			ID:      g.id(),
			Number:  fmt.Sprintf("K%05d", 10001+i),
			Name:    name,
			Address: fmt.Sprintf("%s %d, %s %s", pick(g, streets), 1+g.rng.IntN(120), city.zip, city.name),
			Contacts: []izy.Contact{{
				Name:  first + " " + last,
				Role:  pick(g, contactRoles),
				Phone: fmt.Sprintf("+49 %d %d", 900+g.rng.IntN(99), 100000+g.rng.IntN(900000)),
				Email: fmt.Sprintf("%s.%s@example.de", asciiLower(first), asciiLower(last)),
			}},
			Version: 1,
		}
		c.CreatedAt = g.stamp(g.o.Today.AddMonths(-12*g.o.YearsOfTests - 1))
		c.UpdatedAt = c.CreatedAt
		g.customers = append(g.customers, c)
		g.kinds = append(g.kinds, k)
		weights[i] = float64(k.weight) * g.between(0.5, 1.5)
		sum += weights[i]
	}
	// Largest-remainder shares, so the sizes add up to exactly Devices and every customer
	// has at least one device when there are enough.
	g.sizes = make([]int, g.o.Customers)
	left := g.o.Devices
	if g.o.Devices >= g.o.Customers {
		for i := range g.sizes {
			g.sizes[i] = 1
		}
		left -= g.o.Customers
	}
	given := 0
	for i, w := range weights {
		g.sizes[i] += int(float64(left) * w / sum)
		given += int(float64(left) * w / sum)
	}
	for i := 0; given < left; i = (i + 1) % len(g.sizes) {
		g.sizes[i]++
		given++
	}
}

// makeUsers creates one inspector per few customers, each with write grants for the
// customers they look after, and an office clerk.
func (g *generator) makeUsers() error {
	n := min(12, max(2, len(g.customers)/3))
	at := g.stamp(g.o.Today.AddMonths(-12*g.o.YearsOfTests - 1))
	for i := range n {
		first, last := firstNames[i%len(firstNames)], surnames[(i*7)%len(surnames)]
		u := &izy.User{
			ID:          g.id(),
			Username:    fmt.Sprintf("%s.%s", asciiLower(first[:1]), asciiLower(last)),
			DisplayName: first + " " + last,
			Role:        izy.RoleInspector,
			Version:     1,
			CreatedAt:   at,
			UpdatedAt:   at,
		}
		for j, c := range g.customers {
			if j%n == i {
				u.Grants = append(u.Grants, izy.Grant{CustomerID: c.ID, Access: izy.AccessWrite})
			}
		}
		g.inspectors = append(g.inspectors, u)
	}
	clerk := &izy.User{ID: g.id(), Username: "buero", DisplayName: "Büro Auftragsannahme",
		Role: izy.RoleClerk, Version: 1, CreatedAt: at, UpdatedAt: at}
	for _, c := range g.customers {
		clerk.Grants = append(clerk.Grants, izy.Grant{CustomerID: c.ID, Access: izy.AccessWrite})
	}
	for _, u := range append(g.inspectors[:len(g.inspectors):len(g.inspectors)], clerk) {
		if err := g.l.User(u, InspectorPasswordHash); err != nil {
			return fmt.Errorf("seed user %s: %w", u.Username, err)
		}
		g.stats.Users++
	}
	return nil
}

// makeInstruments creates the company's test instruments; most are calibrated, a few are
// due soon and one in ten is overdue, so the instrument dashboard shows every colour.
func (g *generator) makeInstruments() error {
	n := min(500, 4+g.o.Devices/2000)
	for i := range n {
		k := instrumentKinds[i%len(instrumentKinds)]
		var due izy.Date
		switch r := g.rng.Float64(); {
		case i == 0 || r < 0.1:
			due = g.o.Today.AddDays(-1 - g.rng.IntN(90)) // overdue
		case i == 1 || r < 0.15:
			due = g.o.Today.AddDays(g.rng.IntN(8)) // orange
		case i == 2 || r < 0.25:
			due = g.o.Today.AddDays(8 + g.rng.IntN(23)) // yellow
		default:
			due = g.o.Today.AddDays(31 + g.rng.IntN(330))
		}
		at := g.stamp(g.o.Today.AddMonths(-12*g.o.YearsOfTests - 1))
		in := &izy.Instrument{
			ID:             g.id(),
			Type:           k.typ,
			Manufacturer:   k.manufacturer,
			Model:          k.model,
			SerialNumber:   fmt.Sprintf("%c%c%07d", 'A'+rune(g.rng.IntN(26)), 'A'+rune(g.rng.IntN(26)), 1000000+i*7919%9000000),
			CalibrationDue: due,
			Status:         izy.DeviceActive,
			Version:        1,
			CreatedAt:      at,
			UpdatedAt:      at,
		}
		if err := g.l.Instrument(in); err != nil {
			return fmt.Errorf("seed instrument: %w", err)
		}
		g.instruments = append(g.instruments, in)
		g.stats.Instruments++
		count(&g.stats.InstrumentColours, izy.InstrumentColour(in, g.o.Today, izy.DefaultWindows))
	}
	return nil
}

// makeLocations builds a customer's four-level tree (property, building, level, room)
// with about one room per eight devices and returns the rooms.
func (g *generator) makeLocations(c *izy.Customer, k *customerKind, devices int) ([]*string, error) {
	wantRooms := max(1, devices/8)
	properties := 1 + min(2, wantRooms/60)
	perProperty := (wantRooms + properties - 1) / properties
	var rooms []*string
	at := c.CreatedAt
	add := func(l *izy.Location) error {
		l.ID, l.CustomerID, l.Version, l.CreatedAt, l.UpdatedAt = g.id(), c.ID, 1, at, at
		if err := g.l.Location(l); err != nil {
			return fmt.Errorf("seed location %s: %w", l.Name, err)
		}
		g.stats.Locations++
		return nil
	}
	for p := range properties {
		prop := &izy.Location{Kind: izy.LocationProperty, Name: propertyNames[p%len(propertyNames)]}
		if err := add(prop); err != nil {
			return nil, err
		}
		buildings := 1 + min(3, perProperty/20)
		perBuilding := (perProperty + buildings - 1) / buildings
		for b := range buildings {
			bld := &izy.Location{Kind: izy.LocationBuilding, ParentID: &prop.ID, Name: buildingNames[(b+p*3)%len(buildingNames)]}
			if err := add(bld); err != nil {
				return nil, err
			}
			levels := 1 + min(4, perBuilding/6)
			perLevel := (perBuilding + levels - 1) / levels
			for lv := range levels {
				lvl := &izy.Location{Kind: izy.LocationLevel, ParentID: &bld.ID, Name: levelNames[(lv+1)%len(levelNames)]}
				if err := add(lvl); err != nil {
					return nil, err
				}
				for r := range perLevel {
					name := fmt.Sprintf("%s %d.%02d", pick(g, k.rooms), lv, r+1)
					room := &izy.Location{Kind: izy.LocationRoom, ParentID: &lvl.ID, Name: name}
					if err := add(room); err != nil {
						return nil, err
					}
					rooms = append(rooms, &room.ID)
				}
			}
		}
	}
	return rooms, nil
}

// count adds one thing of colour col to c.
func count(c *izy.ColourCounts, col izy.Colour) {
	switch col {
	case izy.Green:
		c.Green++
	case izy.Yellow:
		c.Yellow++
	case izy.Orange:
		c.Orange++
	case izy.Red:
		c.Red++
	}
}

func asciiLower(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		case r >= 'a' && r <= 'z':
			b = append(b, byte(r))
		case r == 'ä' || r == 'Ä':
			b = append(b, 'a', 'e')
		case r == 'ö' || r == 'Ö':
			b = append(b, 'o', 'e')
		case r == 'ü' || r == 'Ü':
			b = append(b, 'u', 'e')
		case r == 'ß':
			b = append(b, 's', 's')
		}
	}
	return string(b)
}
