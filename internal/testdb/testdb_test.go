package testdb

import "testing"

func TestMain(m *testing.M) { Main(m) }

func TestServerAnswers(t *testing.T) {
	s := Get(t)
	db := s.CreateDB(t, "probe")
	s.Exec(t, db, "CREATE TABLE t (ts TIMESTAMP)")
	var tz string
	if err := s.Open(t, db).QueryRow("SELECT @@global.time_zone").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	if tz != TimeZone {
		t.Fatalf("server time zone %q, want %q", tz, TimeZone)
	}
}
