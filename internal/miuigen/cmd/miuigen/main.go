// Command miuigen writes a synthetic MIUI backup for samples and manual
// tests: the MIUI/backup/AllBackup/<stamp>/ folder, or with -zip the
// HyperOS zip of it. The same flags always give the same bytes.
//
//	go run ./internal/miuigen/cmd/miuigen -out sample -n 20
//	go run ./internal/miuigen/cmd/miuigen -zip sample/backup.zip -password secret
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/miexit/miexit/internal/miuigen"
)

func main() {
	out := flag.String("out", "", "folder to write MIUI/backup/AllBackup/<stamp>/ under")
	zipPath := flag.String("zip", "", "write the HyperOS zip here instead")
	seed := flag.Uint64("seed", 1, "fixture seed")
	n := flag.Int("n", 20, "records of each kind")
	plain := flag.Bool("uncompressed", false, "write uncompressed Android backups")
	password := flag.String("password", "", "encrypt with this password (AES-256)")
	user := flag.Int("user", 0, "Android user (999: second space)")
	flag.Parse()
	if (*out == "") == (*zipPath == "") {
		fmt.Fprintln(os.Stderr, "miuigen: give exactly one of -out or -zip")
		os.Exit(2)
	}
	f := miuigen.New(*seed, *n)
	opt := miuigen.Options{Compressed: !*plain, Password: *password, User: *user, Seed: *seed}
	if *out != "" {
		dir, err := f.WriteFolder(*out, opt)
		if err != nil {
			fmt.Fprintln(os.Stderr, "miuigen:", err)
			os.Exit(1)
		}
		fmt.Println(dir)
		return
	}
	fh, err := os.OpenFile(*zipPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err == nil {
		err = f.WriteZip(fh, opt)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "miuigen:", err)
		os.Exit(1)
	}
	fmt.Println(*zipPath)
}
