-- wrk script: POST a different customer per request, cycling through every JSON body in
-- the file named by $BODIES (one JSON object per line; make_bodies.py writes all 7,043
-- telco customers). Each wrk thread starts at its own place in the file, so concurrent
-- connections do not send the same record together, and no record repeats until every
-- other one has been sent.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end

local bodies = {}
local at = 0
function init(args)
    local path = os.getenv("BODIES")
    assert(path, "set BODIES to a file of JSON bodies, one per line")
    for line in io.lines(path) do
        if #line > 0 then bodies[#bodies + 1] = line end
    end
    assert(#bodies > 0, "no bodies in " .. path)
    at = (id or 0) * 997 % #bodies
end

function request()
    at = at % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[at])
end
