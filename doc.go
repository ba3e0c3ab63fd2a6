// Package izytroniq holds the domain of Izytroniq: customers, locations, devices, test
// instruments, tests and measurements, users and grants, the limit rules of the test
// standards, due dates and dashboard colours, and the one error type every layer uses.
//
// It depends on the standard library only, so that the server and the field client
// evaluate tests with the very same code.
package izytroniq
