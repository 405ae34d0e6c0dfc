module github.com/putsecrets/putsecrets

go 1.26.0

require github.com/Azure/azure-sdk-for-go/sdk/azcore v1.24.0

require github.com/google/go-cmp v0.7.0 // indirect
