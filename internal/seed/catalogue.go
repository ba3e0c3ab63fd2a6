package seed

import izy "github.com/izytroniq/izytroniq"

// deviceKind is one kind of device as it turns up in an inventory.
type deviceKind struct {
	designation string
	typ         string
	makers      [][2]string // manufacturer, model
	class       izy.ProtectionClass
	cable       []float64 // typical cable lengths in metres
	cross       float64   // cable cross-section in mm²; 0: 0.75 for short cords, else 1.5
	heatingKW   [2]float64
	interval    int // 0: the customer's
	medical     *[3]int
}

// catalogue groups device kinds by where they are used; customer kinds name the groups.
var catalogue = map[string][]deviceKind{
	"office": {
		{designation: "Arbeitsplatzrechner", typ: "PC", class: izy.ClassI, cable: []float64{1.8, 2},
			makers: [][2]string{{"Dell", "OptiPlex 7010"}, {"Fujitsu", "Esprimo P758"}, {"HP", "EliteDesk 800 G6"}, {"Lenovo", "ThinkCentre M90t"}}},
		{designation: "Monitor", typ: "Bildschirm", class: izy.ClassI, cable: []float64{1.5, 1.8},
			makers: [][2]string{{"Eizo", "FlexScan EV2495"}, {"Dell", "P2422H"}, {"Samsung", "S27R650"}}},
		{designation: "Monitor", typ: "Bildschirm", class: izy.ClassII, cable: []float64{1.5},
			makers: [][2]string{{"LG", "27UL500"}, {"Philips", "242E2"}}},
		{designation: "Laserdrucker", typ: "Drucker", class: izy.ClassI, cable: []float64{1.8},
			makers: [][2]string{{"Brother", "HL-L5100DN"}, {"HP", "LaserJet Pro M404dn"}, {"Kyocera", "ECOSYS P3145dn"}}},
		{designation: "Notebook-Netzteil", typ: "Netzteil", class: izy.ClassII, cable: []float64{1, 1.8},
			makers: [][2]string{{"Lenovo", "ADLX65"}, {"Dell", "LA65NS2"}, {"HP", "TPN-CA17"}}},
		{designation: "Schreibtischleuchte", typ: "Leuchte", class: izy.ClassII, cable: []float64{1.5, 2},
			makers: [][2]string{{"Waldmann", "Tameo"}, {"Brilliant", "Office LED"}}},
		{designation: "Mehrfachsteckdose", typ: "Steckdosenleiste", class: izy.ClassI, cable: []float64{1.5, 3, 5},
			makers: [][2]string{{"Brennenstuhl", "Premium-Line 6-fach"}, {"Bachmann", "SMART 5x"}}},
		{designation: "Aktenvernichter", typ: "Büromaschine", class: izy.ClassII, cable: []float64{1.8},
			makers: [][2]string{{"HSM", "Securio B24"}, {"IDEAL", "2604"}}},
		{designation: "Beamer", typ: "Projektor", class: izy.ClassI, cable: []float64{1.8},
			makers: [][2]string{{"Epson", "EB-W49"}, {"BenQ", "MW560"}}},
	},
	"kitchen": {
		{designation: "Wasserkocher", typ: "Küchengerät", class: izy.ClassI, cable: []float64{0.75, 1}, heatingKW: [2]float64{1.8, 2.2},
			makers: [][2]string{{"WMF", "Lono"}, {"Severin", "WK 3468"}, {"Bosch", "TWK7203"}}},
		{designation: "Kaffeemaschine", typ: "Küchengerät", class: izy.ClassI, cable: []float64{1, 1.2}, heatingKW: [2]float64{1.0, 1.5},
			makers: [][2]string{{"Melitta", "Look IV"}, {"Jura", "E8"}, {"De'Longhi", "Magnifica S"}}},
		{designation: "Mikrowelle", typ: "Küchengerät", class: izy.ClassI, cable: []float64{1},
			makers: [][2]string{{"Panasonic", "NN-E22JBM"}, {"Severin", "MW 7770"}}},
		{designation: "Kühlschrank", typ: "Kühlgerät", class: izy.ClassI, cable: []float64{1.5, 2},
			makers: [][2]string{{"Liebherr", "TP 1720"}, {"Bosch", "KGN39VWEQ"}}},
		{designation: "Toaster", typ: "Küchengerät", class: izy.ClassII, cable: []float64{0.8}, heatingKW: [2]float64{0.8, 1.0},
			makers: [][2]string{{"Krups", "KH1518"}, {"WMF", "Kineo"}}},
		{designation: "Gastro-Fritteuse", typ: "Großküchengerät", class: izy.ClassI, cable: []float64{1.5}, cross: 2.5, heatingKW: [2]float64{6, 9},
			makers: [][2]string{{"Bartscher", "Fritteuse 2x8L"}, {"Rational", "VarioCooking"}}},
	},
	"heating": {
		{designation: "Heizlüfter", typ: "Heizgerät", class: izy.ClassII, cable: []float64{1.5}, heatingKW: [2]float64{2.0, 2.0},
			makers: [][2]string{{"Stiebel Eltron", "CK 20 Trend"}, {"Rowenta", "SO2320"}}},
		{designation: "Ölradiator", typ: "Heizgerät", class: izy.ClassI, cable: []float64{1.8}, heatingKW: [2]float64{2.0, 2.5},
			makers: [][2]string{{"De'Longhi", "Dragon 4"}, {"Stiebel Eltron", "CNS 200"}}},
		{designation: "Elektroheizer", typ: "Heizgerät", class: izy.ClassI, cable: []float64{5, 10}, cross: 2.5, heatingKW: [2]float64{3.3, 9},
			makers: [][2]string{{"Master", "B 9 EPB"}, {"Trotec", "TDS 75 R"}}},
	},
	"workshop": {
		{designation: "Tischkreissäge", typ: "Maschine", class: izy.ClassI, cable: []float64{3, 5},
			makers: [][2]string{{"Bosch", "GTS 10 XC"}, {"Metabo", "TS 254"}}},
		{designation: "Ständerbohrmaschine", typ: "Maschine", class: izy.ClassI, cable: []float64{2},
			makers: [][2]string{{"Alzmetall", "AB 3/SV"}, {"Optimum", "B 23 Pro"}}},
		{designation: "Hochdruckreiniger", typ: "Reinigungsgerät", class: izy.ClassI, cable: []float64{5, 10},
			makers: [][2]string{{"Kärcher", "HD 5/15 C"}, {"Nilfisk", "MC 2C"}}},
		{designation: "Schweißgerät", typ: "Maschine", class: izy.ClassI, cable: []float64{3}, cross: 2.5,
			makers: [][2]string{{"Fronius", "TransSteel 2200"}, {"Lorch", "MicorMIG 300"}}},
		{designation: "Industriestaubsauger", typ: "Reinigungsgerät", class: izy.ClassII, cable: []float64{7.5},
			makers: [][2]string{{"Festool", "CTL 26"}, {"Kärcher", "NT 30/1"}}},
		{designation: "Handleuchte 24 V", typ: "Leuchte", class: izy.ClassIII, cable: []float64{5},
			makers: [][2]string{{"Brennenstuhl", "SL 24"}, {"Mennekes", "HL 24"}}},
	},
	"tools": {
		{designation: "Bohrmaschine", typ: "Elektrowerkzeug", class: izy.ClassII, cable: []float64{4}, interval: 6,
			makers: [][2]string{{"Bosch", "GSB 13 RE"}, {"Makita", "HP1631K"}, {"Metabo", "SBE 650"}}},
		{designation: "Bohrhammer", typ: "Elektrowerkzeug", class: izy.ClassII, cable: []float64{4}, interval: 6,
			makers: [][2]string{{"Hilti", "TE 30"}, {"Bosch", "GBH 2-28"}, {"Makita", "HR2630"}}},
		{designation: "Winkelschleifer", typ: "Elektrowerkzeug", class: izy.ClassII, cable: []float64{4}, interval: 3,
			makers: [][2]string{{"Metabo", "W 850-125"}, {"Bosch", "GWS 9-125"}, {"Flex", "L 3406"}}},
		{designation: "Stichsäge", typ: "Elektrowerkzeug", class: izy.ClassII, cable: []float64{4}, interval: 6,
			makers: [][2]string{{"Festool", "PSB 420"}, {"Bosch", "GST 90 E"}}},
		{designation: "Akku-Ladegerät", typ: "Ladegerät", class: izy.ClassII, cable: []float64{1.5}, interval: 6,
			makers: [][2]string{{"Makita", "DC18RC"}, {"Bosch", "GAL 18V-40"}, {"Milwaukee", "M12-18FC"}}},
		{designation: "Baustrahler", typ: "Leuchte", class: izy.ClassI, cable: []float64{5}, interval: 3,
			makers: [][2]string{{"Brennenstuhl", "LED JARO 5000"}, {"as-Schwabe", "Chip-LED 50W"}}},
		{designation: "Baustrahler 24 V", typ: "Leuchte", class: izy.ClassIII, cable: []float64{5}, interval: 3,
			makers: [][2]string{{"Brennenstuhl", "LED 24V"}}},
		{designation: "Baustromverteiler", typ: "Verteiler", class: izy.ClassI, cable: []float64{5}, cross: 2.5, interval: 3,
			makers: [][2]string{{"PC Electric", "HV 1/6"}, {"Mennekes", "AMAXX"}}},
	},
	"leads": {
		{designation: "Verlängerungsleitung", typ: "Leitung", class: izy.ClassI, cable: []float64{5, 10, 25}, cross: 1.5, interval: 6,
			makers: [][2]string{{"as-Schwabe", "H07RN-F 3G1,5"}, {"Brennenstuhl", "H07RN-F 3G1,5"}}},
		{designation: "Kabeltrommel", typ: "Leitungsroller", class: izy.ClassI, cable: []float64{25, 40, 50}, cross: 2.5, interval: 6,
			makers: [][2]string{{"Brennenstuhl", "Garant IP44"}, {"as-Schwabe", "Professional 4x"}}},
		{designation: "CEE-Verlängerung", typ: "Leitung", class: izy.ClassI, cable: []float64{10, 25}, cross: 2.5, interval: 6,
			makers: [][2]string{{"as-Schwabe", "H07RN-F 5G2,5"}, {"PCE", "CEE 16A"}}},
	},
	"medical": {
		{designation: "Patientenmonitor", typ: "Medizinprodukt", class: izy.ClassI, cable: []float64{3}, medical: &[3]int{0, 0, 2},
			makers: [][2]string{{"Philips", "IntelliVue MX450"}, {"Dräger", "Infinity Delta"}, {"GE Healthcare", "CARESCAPE B450"}}},
		{designation: "EKG-Gerät", typ: "Medizinprodukt", class: izy.ClassI, cable: []float64{2}, medical: &[3]int{0, 0, 1},
			makers: [][2]string{{"Schiller", "Cardiovit AT-102"}, {"GE Healthcare", "MAC 2000"}}},
		{designation: "Infusionspumpe", typ: "Medizinprodukt", class: izy.ClassII, cable: []float64{2}, medical: &[3]int{0, 1, 0},
			makers: [][2]string{{"B. Braun", "Infusomat Space"}, {"Fresenius Kabi", "Agilia VP"}}},
		{designation: "Spritzenpumpe", typ: "Medizinprodukt", class: izy.ClassII, cable: []float64{2}, medical: &[3]int{0, 1, 0},
			makers: [][2]string{{"B. Braun", "Perfusor Space"}}},
		{designation: "Defibrillator", typ: "Medizinprodukt", class: izy.ClassI, cable: []float64{2}, medical: &[3]int{0, 0, 1},
			makers: [][2]string{{"ZOLL", "R Series"}, {"Physio-Control", "LIFEPAK 20e"}}},
		{designation: "Ultraschallgerät", typ: "Medizinprodukt", class: izy.ClassI, cable: []float64{3}, medical: &[3]int{0, 2, 0},
			makers: [][2]string{{"Siemens Healthineers", "ACUSON Juniper"}, {"GE Healthcare", "LOGIQ E10"}}},
		{designation: "OP-Leuchte", typ: "Medizinprodukt", class: izy.ClassI, cable: []float64{3}, medical: &[3]int{1, 0, 0},
			makers: [][2]string{{"Dräger", "Polaris 600"}, {"Trumpf Medical", "TruLight 5000"}}},
		{designation: "Pflegebett elektrisch", typ: "Medizinprodukt", class: izy.ClassII, cable: []float64{3}, medical: &[3]int{1, 0, 0},
			makers: [][2]string{{"Stiegelmeyer", "Puro"}, {"Hill-Rom", "Progressa"}}},
		{designation: "Blutdruckmessgerät", typ: "Medizinprodukt", class: izy.ClassII, cable: []float64{1.5}, medical: &[3]int{0, 1, 0},
			makers: [][2]string{{"Welch Allyn", "Connex ProBP"}, {"boso", "carat professional"}}},
		{designation: "Absauggerät", typ: "Medizinprodukt", class: izy.ClassI, cable: []float64{2}, medical: &[3]int{0, 1, 0},
			makers: [][2]string{{"ATMOS", "C 361"}, {"Medela", "Dominant Flex"}}},
	},
}

// instrumentKinds are the test instruments a testing company keeps.
var instrumentKinds = []struct{ manufacturer, model, typ string }{
	{"Gossen Metrawatt", "SECUTEST PRO", "Gerätetester"},
	{"Gossen Metrawatt", "SECUTEST BASE10", "Gerätetester"},
	{"Gossen Metrawatt", "SECULIFE ST BASE25", "Medizingerätetester"},
	{"Gossen Metrawatt", "PROFITEST MTECH+", "Installationstester"},
	{"Fluke", "6500-2", "Gerätetester"},
	{"Fluke", "ESA615", "Medizingerätetester"},
	{"Benning", "ST 760+", "Gerätetester"},
	{"Metrel", "MI 3360 OmegaPAT", "Gerätetester"},
	{"Kyoritsu", "KEW 6201A", "Gerätetester"},
}
