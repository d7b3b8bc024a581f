//
// SessionEvent+Envelope.swift
//
// DO NOT EDIT. Copied by `make generate` (tools/gen_swift.py); edit the source.
// Source: tools/swift-support/SessionEvent+Envelope.swift (hand-written, not generated)
//
import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// Every event carries `type`, `seq`, `session_id` and `created_at` (openapi/queueit.yaml
// SessionEvent), but the generated union is one case per event struct plus `.unknown(JSONValue)`
// (an event type this version does not know, or a known one whose shape changed), so these
// accessors read the fields from the event's JSON: they work for every case, unknown ones
// included, and for event types added to the spec later without changing this file.

/// The fields every event has, whatever its type.
public struct EventEnvelope: Sendable, Hashable, Decodable {
    public let type: String
    public let seq: Int64
    public let sessionId: UUID
    public let createdAt: Date

    enum CodingKeys: String, CodingKey {
        case type, seq
        case sessionId = "session_id"
        case createdAt = "created_at"
    }
}

extension SessionEvent {
    /// `type`, `seq`, `sessionId`, `createdAt` of this event (nil only if it lacks them).
    public var envelope: EventEnvelope? {
        let helper = CodableHelper()
        guard let data = try? helper.jsonEncoder.encode(self) else { return nil }
        return try? helper.jsonDecoder.decode(EventEnvelope.self, from: data)
    }

    public var seq: Int64? { envelope?.seq }
    public var sessionId: UUID? { envelope?.sessionId }
    public var createdAt: Date? { envelope?.createdAt }
    /// The wire `type` (e.g. `song_added`), also for types this version does not know.
    public var type: String? { envelope?.type }

    /// True for an event this version could not read as one of its types.
    public var isUnknown: Bool {
        if case .unknown = self { return true }
        return false
    }
}
