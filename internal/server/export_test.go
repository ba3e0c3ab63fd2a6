package server

// Exports for the tests of package server_test: the decoders that the fuzz tests drive
// directly, without a database.
var (
	DecodeJSON             = decodeJSON
	DecodeLogin            = decodeLogin
	DecodePasswordChange   = decodePasswordChange
	DecodeHandshake        = decodeHandshake
	DecodeCustomer         = decodeCustomer
	DecodeCustomerUpdate   = decodeCustomerUpdate
	DecodeLocation         = decodeLocation
	DecodeLocationUpdate   = decodeLocationUpdate
	DecodeDevice           = decodeDevice
	DecodeDeviceUpdate     = decodeDeviceUpdate
	DecodeInstrument       = decodeInstrument
	DecodeInstrumentUpdate = decodeInstrumentUpdate
	DecodeUser             = decodeUser
	DecodeUserUpdate       = decodeUserUpdate
	DecodeTest             = decodeTest
	CompareVersions        = compareVersions
	LoginDelay             = loginDelay
)
