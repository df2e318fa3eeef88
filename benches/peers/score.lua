-- wrk script: POST a different body per request, cycling through every body in the file
-- named by $BODIES. JSON bodies are one a line (make_bodies.py writes all 7,043 telco
-- customers as JSON objects); with CONTENT_TYPE=text/csv, a body is a block of lines (a
-- header row and its rows) and blocks are separated by an empty line. ACCEPT, when set
-- and not empty, is sent as the Accept header. Each wrk thread starts at its own place in the file, so
-- concurrent connections do not send the same records together, and no body repeats
-- until every other one has been sent.
wrk.method = "POST"
local content_type = os.getenv("CONTENT_TYPE") or "application/json"
wrk.headers["Content-Type"] = content_type
local accept = os.getenv("ACCEPT")
if accept and #accept > 0 then wrk.headers["Accept"] = accept end

local threads = 0
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end

local bodies = {}
local at = 0
function init(args)
    local path = os.getenv("BODIES")
    assert(path, "set BODIES to a file of bodies, one per line (CSV: blocks between empty lines)")
    local blocks = content_type:find("text/csv", 1, true) ~= nil
    local block = {}
    for line in io.lines(path) do
        if not blocks then
            if #line > 0 then bodies[#bodies + 1] = line end
        elseif #line > 0 then
            block[#block + 1] = line
        elseif #block > 0 then
            bodies[#bodies + 1] = table.concat(block, "\n") .. "\n"
            block = {}
        end
    end
    if #block > 0 then bodies[#bodies + 1] = table.concat(block, "\n") .. "\n" end
    assert(#bodies > 0, "no bodies in " .. path)
    at = (id or 0) * 997 % #bodies
end

function request()
    at = at % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[at])
end
