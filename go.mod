module github.com/putsecrets/putsecrets

go 1.26.0

require github.com/Azure/azure-sdk-for-go/sdk/azcore v1.24.0
