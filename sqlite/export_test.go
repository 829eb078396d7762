package sqlite

// OnFullDisk is onFullDisk, for the tests of package sqlite_test.
var OnFullDisk = onFullDisk
