package ca

import "logsys/ca/wire"

// API paths of the Server (see package wire, the protocol).
const (
	PathBootstrap = wire.PathBootstrap
	PathRenew     = wire.PathRenew
	PathTrust     = wire.PathTrust
	PathStatus    = wire.PathStatus
)

// maxAnchors bounds the fingerprints of one report.
const maxAnchors = wire.MaxAnchors

// maxBody bounds request bodies.
const maxBody = 64 << 10

// Trust is the environment's trust material (wire.Trust).
type Trust = wire.Trust

type (
	issueRequest  = wire.IssueRequest
	issueResponse = wire.IssueResponse
	errorResponse = wire.ErrorResponse
)
