module github.com/miexit/miexit

go 1.26.0

require (
	github.com/emersion/go-vcard v0.0.0-20260618161152-d854b7e0e2d3
	github.com/rwcarlsen/goexif v0.0.0-20190401172101-9e8deecbddbd
	go.etcd.io/bbolt v1.5.0
)

require (
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/api v0.311.0 // indirect
)
