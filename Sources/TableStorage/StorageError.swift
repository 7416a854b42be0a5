/// The error every ``TableStore`` of this package throws.
///
/// Its ``code`` says what went wrong; the other fields give the context that applies (table, column,
/// file, byte offset). ``description`` is one line a person can act on.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of an error. New kinds may be added; `switch` over them with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case missingTable, conflictingDefinition, invalidDefinition, unknownColumn, typeMismatch, invalidValue,
                missingUniqueKey, duplicateKey, notIndexed, invalidQuery, malformedStore, readOnly, diskFull, locked,
                io,
                closed, unsupportedType, connectionLost, fenced
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The table does not exist.
        public static let missingTable = Code(.missingTable)
        /// `createTable` met a table of that name with another definition.
        public static let conflictingDefinition = Code(.conflictingDefinition)
        /// The table definition is not valid (empty name, unique key also declared with another type, …).
        public static let invalidDefinition = Code(.invalidDefinition)
        /// A query names a column the table has never had.
        public static let unknownColumn = Code(.unknownColumn)
        /// A value's type differs from the type the column has established.
        public static let typeMismatch = Code(.typeMismatch)
        /// A value no store can keep, such as a NaN double or an empty column name.
        public static let invalidValue = Code(.invalidValue)
        /// A row has no value for the table's unique key.
        public static let missingUniqueKey = Code(.missingUniqueKey)
        /// Under ``ConflictPolicy/fail`` (or an update), a unique key value is already present.
        public static let duplicateKey = Code(.duplicateKey)
        /// ``TableStore/newest(in:by:)`` was asked for a column without an index.
        public static let notIndexed = Code(.notIndexed)
        /// A query is not valid (negative `take` or `skip`).
        public static let invalidQuery = Code(.invalidQuery)
        /// A store file is damaged in the middle (not just a torn tail); ``StorageError/file`` and
        /// ``StorageError/offset`` say where.
        public static let malformedStore = Code(.malformedStore)
        /// The store's directory or file cannot be written.
        public static let readOnly = Code(.readOnly)
        /// The disk is full; nothing of the failed write was committed.
        public static let diskFull = Code(.diskFull)
        /// Another process holds the store open.
        public static let locked = Code(.locked)
        /// Another I/O failure; ``StorageError/message`` holds the system's words.
        public static let io = Code(.io)
        /// The store was closed.
        public static let closed = Code(.closed)
        /// The typed layer met a Swift type it cannot map to a ``Value``.
        public static let unsupportedType = Code(.unsupportedType)
        /// The connection to a database server was lost or could not be made (a server store such as
        /// `PostgresTableStore`). The failed operation was rolled back by the server, unless the connection was lost
        /// while its commit was in flight, in which case it may have been committed; the next call connects again.
        public static let connectionLost = Code(.connectionLost)
        /// The write carried a ``WriteFence`` that is no longer current: the job it was written for has passed to
        /// another process since (a fleet's holder that was paused or cut off). Nothing of the write was stored.
        public static let fenced = Code(.fenced)

        /// The code's name, such as `typeMismatch`.
        public var description: String { kind.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The table concerned, if any.
    public var table: String?
    /// The column concerned, if any.
    public var column: String?
    /// The store file concerned, if any.
    public var file: String?
    /// The byte offset in ``file`` concerned, if any.
    public var offset: Int64?
    /// The index of the row in an inserted batch, if any.
    public var row: Int?
    /// More detail (expected and found types, the system's error message).
    public var message: String

    /// Creates an error.
    public init(
        _ code: Code, table: String? = nil, column: String? = nil, file: String? = nil, offset: Int64? = nil,
        row: Int? = nil, message: String = ""
    ) {
        self.code = code
        self.table = table
        self.column = column
        self.file = file
        self.offset = offset
        self.row = row
        self.message = message
    }

    /// One line, such as `typeMismatch: column 'twitterId' of table 'Updates', row 3: expected int, found string`.
    public var description: String {
        var parts: [String] = []
        if let column { parts.append("column '\(column)'") }
        if let table { parts.append((column == nil ? "table" : "of table") + " '\(table)'") }
        var text = "\(code)"
        if !parts.isEmpty { text += ": " + parts.joined(separator: " ") }
        if let row { text += (parts.isEmpty ? ": " : ", ") + "row \(row)" }
        if let file {
            text += (text.contains(":") ? ", " : ": ") + "file \(file)"
            if let offset { text += " at byte \(offset)" }
        }
        if !message.isEmpty { text += (text.contains(":") ? ": " : ": ") + message }
        return text
    }
}
