module github.com/miexit/miexit

go 1.26.0

require (
	github.com/dropbox/dropbox-sdk-go-unofficial/v6 v6.6.3
	github.com/emersion/go-vcard v0.0.0-20260618161152-d854b7e0e2d3
	github.com/rwcarlsen/goexif v0.0.0-20190401172101-9e8deecbddbd
	github.com/spf13/cobra v1.10.2
	go.etcd.io/bbolt v1.5.0
	golang.org/x/oauth2 v0.38.0
	golang.org/x/sync v0.25.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	golang.org/x/sys v0.49.0 // indirect
	google.golang.org/protobuf v1.36.12
)
