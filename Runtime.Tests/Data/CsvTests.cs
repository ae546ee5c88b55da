using System;
using System.IO;
using Xunit;

namespace ModelGen.Runtime.Tests.Data;

public class CsvTests
{
    static string Write(TempDirectory dir, string text, string name = "data.csv")
    {
        string path = dir.File(name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void LoadsClassificationWithHeader()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "a,label,b\n1.5, 2 ,-3e-1\n\n4,0,5\r\n-0.25,1,6.0\n");
        var set = Csv.Load(path, labelColumn: 1);
        Assert.Equal(3, set.Count);
        Assert.Equal(new[] { 2 }, set.SampleShape);
        Assert.Equal(new[] { 1.5f, -0.3f, 4f, 5f, -0.25f, 6f }, set.Features);
        Assert.Equal(new[] { 2, 0, 1 }, set.Labels);
        Assert.Equal(3, set.ClassCount); // max label + 1
    }

    [Fact]
    public void LoadsWithoutHeaderWithSeparatorNegativeColumnAndClassCount()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "1;2;0\n3;4;1.0\n");
        var set = Csv.Load(path, labelColumn: -1, hasHeader: false, classCount: 5, separator: ';');
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, set.Features);
        Assert.Equal(new[] { 0, 1 }, set.Labels);
        Assert.Equal(5, set.ClassCount);
    }

    [Fact]
    public void LoadsRegressionTargetsInTheGivenOrder()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "x,y1,z,y2\n1,10,2,20\n3,30,4,40\n");
        var set = Csv.LoadRegression(path, new[] { 3, 1 });
        Assert.Equal(new[] { 2 }, set.SampleShape);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, set.Features);
        Assert.Equal(new[] { 2 }, set.TargetShape);
        Assert.Equal(new[] { 20f, 10f, 40f, 30f }, set.Targets);
        Assert.Null(set.Labels);
    }

    [Fact]
    public void RaggedRowNamesFileAndLine()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "a,b,label\n1,2,0\n3,4\n");
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 2));
        Assert.Equal($"{path}, line 3: 2 columns where the header has 3.", e.Message);

        path = Write(dir, "1,2,0\n\n3,4,1,9\n", "noheader.csv");
        e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 2, hasHeader: false));
        Assert.Equal($"{path}, line 3: 4 columns where line 1 has 3.", e.Message);
    }

    [Fact]
    public void BadNumberNamesFileLineAndColumn()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "width,height,label\n1,2,0\n3,abc,1\n");
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 2));
        Assert.Equal($"{path}, line 3, column 2 \"height\": 'abc' is not a number.", e.Message);

        path = Write(dir, "1,2\n3,1e60\n", "overflow.csv");
        e = Assert.Throws<InvalidDataException>(() => Csv.LoadRegression(path, new[] { 0 }, hasHeader: false));
        Assert.Equal($"{path}, line 2, column 2: '1e60' is not a finite float32 number.", e.Message);

        // The invariant culture: a decimal comma is not a number.
        path = Write(dir, "x;label\n1,5;0\n", "comma.csv");
        e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 1, separator: ';'));
        Assert.Equal($"{path}, line 2, column 1 \"x\": '1,5' is not a number.", e.Message);
    }

    [Fact]
    public void BadLabelsAreReported()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "x,label\n1,0\n2,1.5\n");
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 1));
        Assert.Equal($"{path}, line 3, column 2 \"label\": label '1.5' is not a non-negative integer class.", e.Message);

        path = Write(dir, "x,label\n1,0\n2,-1\n", "negative.csv");
        e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 1));
        Assert.Contains("line 3, column 2 \"label\": label '-1' is not a non-negative integer class", e.Message);

        path = Write(dir, "x,label\n1,0\n2,3\n", "range.csv");
        e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 1, classCount: 3));
        Assert.Equal($"{path}, line 3, column 2 \"label\": label 3 is outside 0..2 (classCount 3).", e.Message);
    }

    [Fact]
    public void EmptyFilesAndBadColumnsAreReported()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "a,label\n\n");
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 1));
        Assert.Equal($"{path}: no data rows after the header.", e.Message);

        path = Write(dir, "", "empty.csv");
        e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 0));
        Assert.Equal($"{path}: the file is empty.", e.Message);

        path = Write(dir, "a,b\n1,2\n", "columns.csv");
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => Csv.Load(path, 2));
        Assert.Contains("Column 2 is outside the 2 columns (0..1) of " + path, range.Message);
        Assert.Throws<ArgumentException>(() => Csv.LoadRegression(path, new[] { 1, -1 }));
    }

    [Theory]
    [InlineData("2147483647")]
    [InlineData("1e10")]
    public void ALabelTooLargeForAClassCountIsNamed(string label)
    {
        using var dir = new TempDirectory();
        string path = Write(dir, $"a,label\n1,0\n2,{label}\n");
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path, 1));
        Assert.Equal($"{path}, line 3, column 2 \"label\": label '{label}' is too large: class labels are below 2147483647, so that the class count (largest label + 1) fits in an int.", e.Message);
    }

    [Fact]
    public void TheLargestLabelGivesItsClassCount()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "a,label\n1,2147483646\n");
        var set = Csv.Load(path, 1);
        Assert.Equal(int.MaxValue, set.ClassCount);
    }
}
