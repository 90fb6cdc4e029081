package people

import (
	"encoding/base64"

	peopleapi "google.golang.org/api/people/v1"
)

func encode64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func userDefined(k, v string) *peopleapi.UserDefined { return &peopleapi.UserDefined{Key: k, Value: v} }
