// Package testrig holds what HRVS's tests share: rigs that start real senders, receivers and
// network namespaces for a test and stop them in its cleanup. Only tests import it; the
// product binary never links it (it imports package testing).
package testrig
