package seed

// The word lists below make sample data look like what a German testing company sees:
// municipal utilities, clinics, schools and craft businesses in real towns.

var cities = []struct{ name, zip, adjective string }{
	{"Nürnberg", "90402", "Nürnberger"},
	{"Fürth", "90762", "Fürther"},
	{"Erlangen", "91052", "Erlanger"},
	{"Bamberg", "96047", "Bamberger"},
	{"Würzburg", "97070", "Würzburger"},
	{"Regensburg", "93047", "Regensburger"},
	{"Augsburg", "86150", "Augsburger"},
	{"Ingolstadt", "85049", "Ingolstädter"},
	{"Bayreuth", "95444", "Bayreuther"},
	{"Ansbach", "91522", "Ansbacher"},
	{"Schwabach", "91126", "Schwabacher"},
	{"Amberg", "92224", "Amberger"},
	{"Coburg", "96450", "Coburger"},
	{"Hof", "95028", "Hofer"},
	{"Kassel", "34117", "Kasseler"},
	{"Leipzig", "04109", "Leipziger"},
	{"Dresden", "01067", "Dresdner"},
	{"Stuttgart", "70173", "Stuttgarter"},
	{"Heilbronn", "74072", "Heilbronner"},
	{"Ulm", "89073", "Ulmer"},
	{"Freiburg", "79098", "Freiburger"},
	{"Mannheim", "68159", "Mannheimer"},
	{"Mainz", "55116", "Mainzer"},
	{"Bielefeld", "33602", "Bielefelder"},
	{"Münster", "48143", "Münsteraner"},
	{"Hannover", "30159", "Hannoveraner"},
	{"Bremen", "28195", "Bremer"},
	{"Kiel", "24103", "Kieler"},
}

var streets = []string{
	"Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gewerbepark", "Schillerstraße",
	"Goethestraße", "Am Stadtpark", "Lindenallee", "Mühlweg", "Kirchplatz", "Marktplatz",
	"Frankenstraße", "Ringstraße", "Werner-von-Siemens-Straße", "Rudolf-Diesel-Straße",
	"Robert-Bosch-Straße", "Am Klinikum", "Friedhofstraße", "Gartenstraße", "Schulstraße",
	"Kanalstraße", "Hafenstraße", "Ostring", "Westendstraße", "Südliche Ringstraße",
}

var surnames = []string{
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
	"Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
	"Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
	"Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Huber",
	"Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn",
	"Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth",
	"Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig",
	"Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt", "Stein",
	"Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas",
}

var firstNames = []string{
	"Anna", "Thomas", "Michael", "Sabine", "Andreas", "Stefan", "Claudia", "Petra",
	"Markus", "Julia", "Christian", "Katrin", "Jürgen", "Monika", "Frank", "Susanne",
	"Tobias", "Lena", "Matthias", "Sandra", "Daniel", "Nicole", "Florian", "Birgit",
	"Sebastian", "Martina", "Jan", "Laura", "Uwe", "Sarah", "Jonas", "Heike",
}

var contactRoles = []string{
	"Haustechnik", "Elektrofachkraft", "Facility Management", "Geschäftsführung",
	"Medizintechnik", "Sicherheitsfachkraft", "Einkauf", "Hausmeister",
}

// customerKind is a kind of customer: its name pattern, its size (relative weight of its
// device count), the rooms it has, and the devices it owns.
type customerKind struct {
	names     []string // patterns: %[1]s city, %[2]s city adjective, %[3]s surname
	weight    int
	rooms     []string
	catalogue []string // device catalogue groups, see catalogue.go
	interval  int      // typical test interval in months
}

var customerKinds = []customerKind{
	{
		names:     []string{"Stadtwerke %[1]s GmbH", "%[2]s Verkehrs-AG", "Stadtentwässerung %[1]s"},
		weight:    10,
		rooms:     []string{"Werkstatt", "Leitwarte", "Lager", "Büro", "Sozialraum", "Schaltwarte", "Fahrzeughalle", "Teeküche", "Serverraum", "Besprechungsraum"},
		catalogue: []string{"office", "kitchen", "workshop", "leads", "heating"},
		interval:  12,
	},
	{
		names:     []string{"Klinikum %[1]s gGmbH", "%[2]s Kreisklinik", "Fachklinik %[3]s", "Medizinisches Versorgungszentrum %[1]s"},
		weight:    12,
		rooms:     []string{"Patientenzimmer", "Stationszimmer", "OP", "Intensivstation", "Aufwachraum", "Labor", "Funktionsdiagnostik", "Teeküche", "Arztzimmer", "Lager"},
		catalogue: []string{"medical", "medical", "office", "kitchen"},
		interval:  12,
	},
	{
		names:     []string{"Praxis Dr. %[3]s", "Zahnarztpraxis %[3]s", "Physiotherapie %[3]s"},
		weight:    1,
		rooms:     []string{"Behandlungsraum", "Empfang", "Labor", "Sterilisation", "Büro"},
		catalogue: []string{"medical", "office"},
		interval:  24,
	},
	{
		names:     []string{"Elektro %[3]s GmbH", "Schreinerei %[3]s", "Malerbetrieb %[3]s", "Sanitär %[3]s GmbH & Co. KG", "Metallbau %[3]s", "Bauunternehmung %[3]s GmbH", "Dachdeckerei %[3]s"},
		weight:    2,
		rooms:     []string{"Werkstatt", "Lager", "Büro", "Maschinenhalle", "Baustellencontainer", "Sozialraum"},
		catalogue: []string{"tools", "tools", "leads", "workshop", "office"},
		interval:  6,
	},
	{
		names:     []string{"Bäckerei %[3]s", "Metzgerei %[3]s", "Hotel %[3]s", "Gasthof %[3]s"},
		weight:    2,
		rooms:     []string{"Backstube", "Küche", "Verkaufsraum", "Lager", "Büro", "Gastraum", "Zimmer"},
		catalogue: []string{"kitchen", "kitchen", "heating", "office"},
		interval:  12,
	},
	{
		names:     []string{"Stadtverwaltung %[1]s", "Landratsamt %[1]s", "Gymnasium %[1]s", "Berufsschule %[1]s", "Volkshochschule %[1]s"},
		weight:    6,
		rooms:     []string{"Büro", "Klassenzimmer", "Lehrerzimmer", "Sekretariat", "Fachraum Physik", "Werkraum", "Teeküche", "Sitzungssaal", "Bibliothek", "Serverraum"},
		catalogue: []string{"office", "office", "kitchen", "workshop"},
		interval:  24,
	},
}

var propertyNames = []string{
	"Hauptstandort", "Betriebshof", "Werk Nord", "Werk Süd", "Außenstelle", "Zentrale",
	"Campus", "Lagerzentrum",
}

var buildingNames = []string{
	"Haus A", "Haus B", "Haus C", "Verwaltungsgebäude", "Halle 1", "Halle 2", "Nordflügel",
	"Südflügel", "Neubau", "Altbau", "Werkstattgebäude", "Bettenhaus",
}

var levelNames = []string{"UG", "EG", "1. OG", "2. OG", "3. OG", "4. OG", "DG"}

var departments = []string{
	"Verwaltung", "Technik", "Instandhaltung", "Einkauf", "Vertrieb", "Pflege",
	"Küche", "IT", "Hausdienst", "Produktion", "Lager", "Labor",
}

var failReasons = []string{
	"Gehäuse beschädigt",
	"Zugentlastung defekt",
	"Anschlussleitung gequetscht",
	"Stecker verschmort",
	"Isolation der Leitung beschädigt",
	"Schutzleiter unterbrochen",
	"Typschild fehlt",
}

var comments = []string{
	"", "", "", "", "", "",
	"Gerät wird nur saisonal genutzt",
	"Leihgerät",
	"Prüfung nur nach Absprache mit der Station",
	"Aufstellort wechselt häufig",
	"Ersatzbeschaffung geplant",
}
