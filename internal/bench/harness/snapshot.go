package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Snapshot copies the tinit binary into dir and returns the copy's path.
// Every run measures the copy: bin/tinit is a build output that anyone
// working in the tree may rebuild while a ten-minute run is going, and a
// run must measure one binary throughout.
func Snapshot(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", src, err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", fmt.Errorf("snapshot %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("snapshot %s: %w", src, err)
	}
	return dst, nil
}

// FileSHA256 identifies the binary that was measured, for the record.
func FileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
