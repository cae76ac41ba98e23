module github.com/gatewayd/gatewayd

go 1.24
