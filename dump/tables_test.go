package dump

import "testing"

func TestHasEmptyMember(t *testing.T) {
	for in, want := range map[string]bool{
		"enum('','a')": true, "enum('a','')": true, "enum('a','b')": false,
		"enum('it''s','')": true, "enum('''')": false, "enum('a,'',b')": false, "set('','a')": false,
	} {
		if got := hasEmptyMember(in); got != want {
			t.Errorf("hasEmptyMember(%q) = %v, want %v", in, got, want)
		}
	}
}
