module github.com/stewai/stewai-go

go 1.25

require (
	github.com/oklog/ulid/v2 v2.1.2
	github.com/rogpeppe/go-internal v1.14.1
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.26.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
