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
    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "ModelGen.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ModelGen.sln not found above " + AppContext.BaseDirectory);
    }

    static (int ExitCode, string Output) Run(string file, string arguments, string workingDirectory, int timeoutMs)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
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
}
