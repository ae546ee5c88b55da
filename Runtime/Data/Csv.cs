using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace ModelGen;

/// <summary>
/// Loads numeric CSV files into a <see cref="Dataset"/>: one sample per row, every column a number in the
/// invariant culture (<c>1.5</c>, <c>-2e-3</c>). Column indices in the API count from 0, and a negative index
/// counts from the end (-1 is the last column); error messages number lines and columns from 1, as editors do,
/// and name the file. Blank lines are skipped, fields are trimmed, quoting is not interpreted.
/// </summary>
public static class Csv
{
    /// <summary>
    /// Loads a classification set: <paramref name="labelColumn"/> holds integer class labels (0, 1, ...), every
    /// other column is a feature, giving samples of shape (columns - 1). <paramref name="classCount"/> defaults to
    /// the largest label + 1. Throws <see cref="InvalidDataException"/> naming the file, line and column for a
    /// field that is not a number, a label that is not a non-negative integer or not below
    /// <paramref name="classCount"/>, a row with a different number of columns, or a file with no rows.
    /// </summary>
    public static Dataset Load(string path, int labelColumn, bool hasHeader = true, int? classCount = null, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        if (classCount is < 1)
            throw new ArgumentOutOfRangeException(nameof(classCount), $"A classification set has at least one class, not {classCount}.");
        using var reader = new Reader(path, hasHeader, separator);
        int label = reader.ResolveColumn(labelColumn, nameof(labelColumn));
        var features = new List<float>();
        var labels = new List<int>();
        int maxLabel = 0;
        while (reader.Next())
        {
            for (int c = 0; c < reader.ColumnCount; c++)
            {
                if (c != label) { features.Add(reader.Float(c)); continue; }
                int value = reader.Label(c);
                if (value >= classCount)
                    throw reader.Error(c, $"label {value} is outside 0..{classCount - 1} (classCount {classCount})");
                maxLabel = Math.Max(maxLabel, value);
                labels.Add(value);
            }
        }
        reader.RequireRows();
        var shape = reader.FeatureShape(1);
        return new Dataset(features.ToArray(), shape, labels.ToArray(), classCount ?? maxLabel + 1);
    }

    /// <summary>
    /// Loads a regression set: the <paramref name="targetColumns"/> (in that order) form each sample's target of
    /// shape (targetColumns.Length), every other column is a feature. Throws <see cref="InvalidDataException"/>
    /// naming the file, line and column for a field that is not a number, a row with a different number of
    /// columns, or a file with no rows.
    /// </summary>
    public static Dataset LoadRegression(string path, int[] targetColumns, bool hasHeader = true, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(targetColumns);
        if (targetColumns.Length == 0) throw new ArgumentException("At least one target column is needed.", nameof(targetColumns));
        using var reader = new Reader(path, hasHeader, separator);
        var targets = new int[targetColumns.Length];
        var isTarget = new bool[reader.ColumnCount];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = reader.ResolveColumn(targetColumns[i], nameof(targetColumns));
            if (isTarget[targets[i]])
                throw new ArgumentException($"Column {targets[i]} is named twice in the target columns.", nameof(targetColumns));
            isTarget[targets[i]] = true;
        }
        var features = new List<float>();
        var values = new List<float>();
        while (reader.Next())
        {
            for (int c = 0; c < reader.ColumnCount; c++)
                if (!isTarget[c]) features.Add(reader.Float(c));
            foreach (int c in targets) values.Add(reader.Float(c));
        }
        reader.RequireRows();
        return new Dataset(features.ToArray(), reader.FeatureShape(targets.Length), values.ToArray(), new[] { targets.Length });
    }

    /// <summary>Reads the rows of one file, keeping the line number and header for messages.</summary>
    sealed class Reader : IDisposable
    {
        readonly string _path;
        readonly char _separator;
        readonly StreamReader _text;
        readonly string[]? _header;
        string[] _fields;
        int _firstRowLine;
        int _line;
        int _rows;

        public Reader(string path, bool hasHeader, char separator)
        {
            _path = path;
            _separator = separator;
            _text = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            if (!ReadLine(out _fields))
                throw new InvalidDataException($"{path}: the file is empty.");
            ColumnCount = _fields.Length;
            _firstRowLine = _line;
            if (hasHeader)
            {
                _header = _fields;
                _fields = Array.Empty<string>();
            }
            else _rows = -1; // the first line is already a data row, held back for the first Next()
        }

        /// <summary>Columns per row, from the header or the first row.</summary>
        public int ColumnCount { get; }

        public void Dispose() => _text.Dispose();

        bool ReadLine(out string[] fields)
        {
            for (string? line; (line = _text.ReadLine()) != null;)
            {
                _line++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                fields = line.Split(_separator);
                for (int i = 0; i < fields.Length; i++) fields[i] = fields[i].Trim();
                return true;
            }
            fields = Array.Empty<string>();
            return false;
        }

        /// <summary>Moves to the next data row; false at the end of the file.</summary>
        public bool Next()
        {
            if (_rows == -1)
            {
                _rows = 1;
                return true;
            }
            if (!ReadLine(out _fields)) return false;
            if (_rows == 0 && _header != null) _firstRowLine = _line;
            if (_fields.Length != ColumnCount)
                throw new InvalidDataException(
                    $"{_path}, line {_line}: {_fields.Length} columns where {(_header != null ? "the header" : $"line {_firstRowLine}")} has {ColumnCount}.");
            _rows++;
            return true;
        }

        public void RequireRows()
        {
            if (_rows <= 0) throw new InvalidDataException($"{_path}: no data rows{(_header != null ? " after the header" : "")}.");
        }

        public int ResolveColumn(int column, string parameter)
        {
            int resolved = column < 0 ? column + ColumnCount : column;
            if ((uint)resolved >= (uint)ColumnCount)
                throw new ArgumentOutOfRangeException(parameter, $"Column {column} is outside the {ColumnCount} columns (0..{ColumnCount - 1}) of {_path}.");
            return resolved;
        }

        /// <summary>The shape of a sample: every column that is not a label or target.</summary>
        public int[] FeatureShape(int nonFeatureColumns)
        {
            int features = ColumnCount - nonFeatureColumns;
            if (features < 1) throw new InvalidDataException($"{_path}: no feature columns are left besides the label/target columns.");
            return new[] { features };
        }

        public float Float(int column)
        {
            string text = _fields[column];
            if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
                throw Error(column, $"'{text}' is not a number");
            if (!float.IsFinite(value))
                throw Error(column, $"'{text}' is not a finite float32 number");
            return value;
        }

        public int Label(int column)
        {
            string text = _fields[column];
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                || value < 0 || value != Math.Floor(value))
                throw Error(column, $"label '{text}' is not a non-negative integer class");
            // The class count is at least label + 1, and it is an int.
            if (value >= int.MaxValue)
                throw Error(column, $"label '{text}' is too large: class labels are below {int.MaxValue}, so that the class count (largest label + 1) fits in an int");
            return (int)value;
        }

        public InvalidDataException Error(int column, string what)
        {
            string name = _header != null ? $" \"{_header[column].Trim('"')}\"" : "";
            return new InvalidDataException($"{_path}, line {_line}, column {column + 1}{name}: {what}.");
        }
    }
}
