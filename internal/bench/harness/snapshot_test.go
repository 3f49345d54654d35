package harness

import (
	"os"
	"testing"
)

func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	src := dir + "/src-bin"
	if err := os.WriteFile(src, []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	dstDir := t.TempDir()
	tests := []struct {
		name    string
		src     string
		wantErr bool
	}{
		{name: "copies", src: src},
		{name: "missing source", src: dir + "/nope", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Snapshot(tt.src, dstDir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Snapshot(%s) error = %v, want error %v", tt.src, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			st, err := os.Stat(got)
			if err != nil || st.Mode().Perm() != 0o755 {
				t.Fatalf("copy %s: %v, mode %v; want 0755", got, err, st.Mode())
			}
			if FileSHA256(got) != FileSHA256(src) {
				t.Errorf("copy differs from the source")
			}
		})
	}
}
