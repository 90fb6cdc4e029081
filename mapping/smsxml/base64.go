package smsxml

import (
	"encoding/base64"
	"io"
)

func newBase64Writer(w io.Writer) io.WriteCloser { return base64.NewEncoder(base64.StdEncoding, w) }
