//go:build izytroniq_testmigration && izytroniq_testcontract

package sqldb

const withTestContract = true
