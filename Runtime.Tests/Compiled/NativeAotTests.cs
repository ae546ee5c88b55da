using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>Runs alone: it publishes and runs a native binary, which needs both cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeAotCollection
{
    public const string Name = "NativeAOT";
}

/// <summary>
/// The sample as a NativeAOT binary: <c>dotnet publish -r linux-x64 -p:PublishAot=true</c> must succeed with no
/// trim or AOT warning, and the binary (no .NET installed needed) must train one epoch on Fashion-MNIST to at
/// least 0.85 test accuracy, save a checkpoint, reload it and predict; asked for a GPU, it says why it has none
/// (the GPU backend needs run-time code generation), and "best" falls back to the CPU saying so.
/// </summary>
[Collection(NativeAotCollection.Name)]
public class NativeAotTests
{
    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ModelGen.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a process to its end (killed after <paramref name="timeoutMs"/>), with no MSBuild setting of this test host in its environment.</summary>
    internal static (int ExitCode, string Output) Run(string file, string arguments, string workingDirectory, int timeoutMs)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // A child build must see its own SDK set-up only: no property of this test host's build leaks into it.
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        start.Environment.Remove("MSBuildSDKsPath");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutMs))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish in {timeoutMs / 1000} s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void SamplePublishesWithoutWarningsAndTheNativeBinaryTrainsAndPredicts()
    {
        string root = RepositoryRoot();
        string output = Path.Combine(Path.GetTempPath(), $"modelgen-aot-{Guid.NewGuid():N}");
        try
        {
            var (code, log) = Run("dotnet",
                $"publish Samples/FashionMnist -c Release -r linux-x64 -p:PublishAot=true -o \"{output}\" --nologo",
                root, timeoutMs: 600_000);
            Assert.True(code == 0, "dotnet publish failed:\n" + log);
            var warnings = log.Split('\n').Where(l => Regex.IsMatch(l, @"warning (IL|AOT|CS)\w*\d+")).ToList();
            Assert.True(warnings.Count == 0, "publish warnings:\n" + string.Join("\n", warnings));

            string binary = Path.Combine(output, "FashionMnist");
            Assert.True(File.Exists(binary), "no native binary at " + binary);
            string checkpoint = Path.Combine(output, "fashion.safetensors");
            var (runCode, runLog) = Run(binary, $"--epochs 1 --checkpoint \"{checkpoint}\"", output, timeoutMs: 300_000);
            Assert.True(runCode == 0, "the native binary failed:\n" + runLog);
            var accuracy = Regex.Match(runLog, @"Test accuracy (\d\.\d+)");
            Assert.True(accuracy.Success, "no test accuracy in:\n" + runLog);
            Assert.True(double.Parse(accuracy.Groups[1].Value, CultureInfo.InvariantCulture) >= 0.85, runLog);
            Assert.Contains("Reloaded", runLog);
            Assert.Equal(5, Regex.Matches(runLog, @"test image \d: predicted").Count);
            Assert.True(File.Exists(checkpoint));

            // A GPU under NativeAOT: the GPU backend compiles kernels at run time, so the binary says why it has none.
            var (gpuCode, gpuLog) = Run(binary, "--device gpu --epochs 1", output, timeoutMs: 120_000);
            Assert.True(gpuCode == 1, "asking the native binary for a GPU should fail with exit code 1:\n" + gpuLog);
            Assert.Contains("No GPU", gpuLog);
            Assert.Contains("NativeAOT", gpuLog);
            var (bestCode, bestLog) = Run(binary, "--device best --epochs 1 --checkpoint \"" + checkpoint + "\"", output, timeoutMs: 120_000);
            Assert.True(bestCode == 0, bestLog);
            Assert.Contains("running on the CPU", bestLog);
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }
    /// <summary>
    /// Samples/Classify as a NativeAOT binary (zero trim/AOT warnings) classifies the first 200 test images from the
    /// IDX file with the zoo's CNN checkpoint, at the accuracy the zoo states for it (0.91, here at least 0.88 on 200
    /// images), reads a PNG, and refuses an image of the wrong size and a missing file with a message and exit code 1.
    /// </summary>
    [Fact]
    public void ClassifyAppPublishesWithoutWarningsAndClassifiesWithTheZooCheckpoint()
    {
        string root = RepositoryRoot();
        string output = Path.Combine(Path.GetTempPath(), $"modelgen-classify-{Guid.NewGuid():N}");
        try
        {
            var (code, log) = Run("dotnet", $"publish Samples/Classify -c Release -r linux-x64 -o \"{output}\" --nologo", root, timeoutMs: 600_000);
            Assert.True(code == 0, "dotnet publish failed:\n" + log);
            var warnings = log.Split('\n').Where(l => Regex.IsMatch(l, @"warning (IL|AOT|CS)\w*\d+")).ToList();
            Assert.True(warnings.Count == 0, "publish warnings:\n" + string.Join("\n", warnings));
            string binary = Path.Combine(output, "Classify");
            string model = Path.Combine(root, "zoo", "fashion-cnn.safetensors");
            string images = Path.Combine(FashionMnist.FindDirectory(null), "t10k-images-idx3-ubyte.gz");

            var (runCode, runLog) = Run(binary, $"--model \"{model}\" \"{images}:0-199\"", output, timeoutMs: 120_000);
            Assert.True(runCode == 0, "Classify failed:\n" + runLog);
            var lines = runLog.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(200, lines.Length);
            int[] labels = FashionMnist.LoadImages().Test.Labels!;
            int correct = 0;
            for (int i = 0; i < lines.Length; i++)
            {
                var m = Regex.Match(lines[i], @"^t10k-images-idx3-ubyte\.gz:(\d+)\s+(.+?)\s+(\d\.\d{4})$");
                Assert.True(m.Success, "unexpected line: " + lines[i]);
                Assert.Equal(i, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
                double p = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
                Assert.InRange(p, 0.1, 1.0);   // the most likely of 10 classes has at least 1/10
                if (m.Groups[2].Value == FashionMnist.ClassNames[labels[i]]) correct++;
            }
            Assert.True(correct >= 176, $"{correct} of 200 correct, below 0.88:\n{runLog}");

            // The same images as PNG and PGM files (Samples/Classify/examples, written by PIL from records 0-3): the
            // same class and probability as their IDX records.
            string examples = Path.Combine(root, "Samples", "Classify", "examples");
            string[] files = { "0-ankle-boot.png", "0-ankle-boot.pgm", "1-pullover.png", "2-trouser.png", "3-trouser.png" };
            var (fileCode, fileLog) = Run(binary, $"--model \"{model}\" " + string.Join(" ", files.Select(f => $"\"{Path.Combine(examples, f)}\"")), output, 60_000);
            Assert.True(fileCode == 0, fileLog);
            var fileLines = fileLog.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(files.Length, fileLines.Length);
            for (int i = 0; i < files.Length; i++)
            {
                int record = files[i][0] - '0';
                string fromIdx = Regex.Replace(lines[record], @"^\S+", "");
                Assert.Equal(fromIdx, Regex.Replace(fileLines[i], @"^\S+", ""));
            }

            string png = Path.Combine(root, "Runtime.Tests", "Data", "Images", "gray8.png");   // 7 x 5 pixels
            var (sizeCode, sizeLog) = Run(binary, $"--model \"{model}\" \"{png}\"", output, timeoutMs: 60_000);
            Assert.Equal(1, sizeCode);
            Assert.Contains("7 x 5 pixels; the model reads 28 x 28", sizeLog);
            var (missingCode, missingLog) = Run(binary, $"--model \"{model}\" /nonexistent.png", output, timeoutMs: 60_000);
            Assert.Equal(1, missingCode);
            Assert.Contains("'/nonexistent.png' does not exist", missingLog);
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }
}
