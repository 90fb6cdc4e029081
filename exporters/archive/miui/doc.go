package miui

// How the archive exporter uses this package (one .bak member at a time):
//
//   - Recognise a backup by its first bytes with LooksLikeBackup (16 bytes
//     are enough), or by the ".bak" suffix; report IsLegacyStore files
//     (MIUI 4/5 *.store) as not understood; skip descript.xml, or read it
//     with ParseDescript to learn each bakFile's user.
//   - Call Read with the member's stream and SnapshotSink(w). The same call
//     serves Inventory when w is a dry-run snapshot.Writer: keys, and so
//     counts, are the same in both (attachments are hashed here). Counter
//     is the alternative Sink when no writer is at hand.
//   - Options: Name = the member's path (errors start with it), Password =
//     exporters.Params.Password, Prefix = the member's folder inside the
//     source (path.Dir of its name), which keeps attachments of two copies
//     of a backup (a folder and its zip) apart, User = the descript.xml row's
//     user when known.
//   - A Result with Kind == KindUnknown is another app's backup: report it
//     as not understood (Result.Counts.NotUnderstood is 1). Result.Unknown
//     lists protobuf fields not understood; Read also logs them at Warn.
//   - Errors wrap mapping.ErrBadInput; a missing or wrong password wraps
//     ErrPassword and says to pass --password.
