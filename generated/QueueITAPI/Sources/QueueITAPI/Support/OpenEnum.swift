//
// OpenEnum.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/OpenEnum.swift (hand-written, not generated)
//
import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// Every generated enum is open (tools/swift-templates/modelEnum.mustache): a value this version
// does not know decodes to `.unknown(raw)`, keeps its raw value and re-encodes unchanged.

/// An enum of the spec that also holds values it does not know.
public protocol OpenEnum: RawRepresentable, Hashable, Sendable {
    /// True for a value from a newer server (`.unknown(raw)`).
    var isUnknown: Bool { get }
}
