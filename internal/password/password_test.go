package password

import "testing"

func TestHashCheck(t *testing.T) {
	h, err := Hash("correct horse battery", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !Check(h, "correct horse battery") {
		t.Fatal("Check(right password) = false, want true")
	}
	for _, bad := range []string{"", "correct horse batterx", "Correct horse battery"} {
		if Check(h, bad) {
			t.Fatalf("Check(%q) = true, want false", bad)
		}
	}
	for _, bad := range []string{"", "x", "pbkdf2-sha256$0$a$b", "pbkdf2-sha256$1000$%%%$abc", "md5$1$2$3"} {
		if Check(bad, "correct horse battery") {
			t.Fatalf("Check(malformed %q) = true", bad)
		}
	}
	h2, _ := Hash("correct horse battery", 1000)
	if h == h2 {
		t.Fatal("two hashes of one password are equal; salt missing")
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("pbkdf2-sha256$1$AAAA$AAAA", "x")
	f.Fuzz(func(t *testing.T, hash, p string) {
		Check(hash, p) // must not panic
	})
}
