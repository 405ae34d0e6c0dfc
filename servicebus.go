package main

import (
	"errors"
	"fmt"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/internal/transport"
)

// connectionFlags are the Service Bus flags the enqueue and worker commands
// share; they override the ServiceBusConnection settings.
type connectionFlags struct {
	namespace, connectionString string
}

// connection is the Service Bus connection the flags and settings name: a
// flag replaces either setting.
func (f connectionFlags) connection(settings config.ServiceBus) (config.ServiceBus, error) {
	switch {
	case f.namespace != "" && f.connectionString != "":
		return config.ServiceBus{}, usageError{"give --namespace or --connection-string, not both"}
	case f.connectionString != "":
		return config.ServiceBus{ConnectionString: f.connectionString}, nil
	case f.namespace != "":
		return config.ServiceBus{Namespace: f.namespace, ClientID: settings.ClientID}, nil
	case !settings.Configured():
		return config.ServiceBus{}, errors.New("no Service Bus connection: give --namespace FQDN (identity) or " +
			"--connection-string, or set ServiceBusConnection__fullyQualifiedNamespace or ServiceBusConnection")
	}
	return settings, nil
}

// newServiceBus builds the process's one Service Bus client, without
// network I/O. An identity-based connection uses the app's credential, with
// the user-assigned identity ServiceBusConnection__clientId names (else
// AZURE_CLIENT_ID's), as the Functions host's trigger does.
func newServiceBus(cfg *config.Config, getenv func(string) string, conn config.ServiceBus) (*servicebus.Client, error) {
	if conn.ConnectionString != "" {
		return servicebus.New(conn, nil, nil)
	}
	clientID := conn.ClientID
	if clientID == "" {
		clientID = cfg.ClientID
	}
	cred, _, err := credential.New(getenv, cfg.Cloud, clientID, transport.New())
	if err != nil {
		return nil, fmt.Errorf("service bus credential: %w", err)
	}
	return servicebus.New(conn, cred, nil)
}

// connectionKind names a connection for log lines, never showing the string.
func connectionKind(conn config.ServiceBus) string {
	switch {
	case conn.ConnectionString != "":
		return "connectionString"
	case conn.Namespace != "":
		return "namespace " + conn.Namespace
	}
	return "none"
}
