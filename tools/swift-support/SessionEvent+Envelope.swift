import Foundation

// Hand-written (not generated): `make generate` copies this file into the package.
// Every event carries `type`, `seq`, `session_id` and `created_at` (openapi/queueit.yaml
// SessionEvent); the generated union is one case per event struct plus `.unknown(JSONValue)`
// (an event type this version does not know, or a known one whose shape changed). These
// accessors read the fields straight from the case's struct (or, for `.unknown`, from its JSON),
// so reading `seq` of every event of a busy party costs nothing. A new event type in the spec
// adds a case and makes the switch below fail to compile until it is listed: on purpose.

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

    public init(type: String, seq: Int64, sessionId: UUID, createdAt: Date) {
        self.type = type
        self.seq = seq
        self.sessionId = sessionId
        self.createdAt = createdAt
    }

    init(_ type: String, _ seq: Int64, _ sessionId: UUID, _ createdAt: Date) {
        self.init(type: type, seq: seq, sessionId: sessionId, createdAt: createdAt)
    }

    /// The fields of an event's JSON object; nil when one is missing or malformed.
    init?(json: JSONValue) {
        guard case .dictionary(let object) = json,
              case .string(let type)? = object["type"],
              case .int(let seq)? = object["seq"],
              case .string(let rawSession)? = object["session_id"],
              let sessionId = UUID(uuidString: rawSession),
              case .string(let rawCreated)? = object["created_at"],
              let createdAt = OpenISO8601DateFormatter().date(from: rawCreated)
        else { return nil }
        self.init(type: type, seq: Int64(seq), sessionId: sessionId, createdAt: createdAt)
    }
}

extension SessionEvent {
    /// `type`, `seq`, `sessionId`, `createdAt` of this event (nil only if it lacks them).
    public var envelope: EventEnvelope? {
        switch self {
        case .typeMemberJoinedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeMemberKickedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeMemberLeftEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeMemberRoleChangedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typePlaybackChangedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeSessionEndedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeSessionEndingEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeSettingsChangedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeSkipVotesUpdatedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeSongAddedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeSongRemovedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .typeVotesUpdatedEvent(let e): return .init(e.type.rawValue, e.seq, e.sessionId, e.createdAt)
        case .unknown(let json): return EventEnvelope(json: json)
        }
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
