// Command gensample writes miexit's synthetic sample source:
//
//	go run ./internal/sample/gensample testdata/sample
package main

import (
	"fmt"
	"os"

	"github.com/miexit/miexit/internal/sample"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gensample DIR")
		os.Exit(2)
	}
	if err := sample.Generate(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gensample:", err)
		os.Exit(1)
	}
}
